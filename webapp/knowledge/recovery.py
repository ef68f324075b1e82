"""Crash safety of the knowledge base: markers of work under way, and the start-up check.

The registry entry (chunk 0) is stored last and removed first, so a document is listed only
while all its chunks are in Chroma. A small marker file next to the originals
(`.<doc id>.pending.json`, `.<doc id>.deleting.json`) says what was under way; `reconcile`,
run at start-up by the process holding the storage lock, removes the pieces of anything cut
short and records interrupted uploads so that the owner is told. It never removes a complete
document, except the older version of a replacement whose new version is complete.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from webapp.files import read_json, write_or_remove
from webapp.knowledge.documents import registry_entry
from webapp.knowledge.store import PREFIX, collection_names, get_all

log = logging.getLogger(__name__)

PENDING, DELETING = "pending", "deleting"  # marker kinds: an upload, a delete under way
INTERRUPTED_FILE = ".interrupted.json"  # per owner: uploads a crash cut short, until dismissed
INTERRUPTED = "{file}: indexing was interrupted (the server stopped); upload it again"
COUNTS = ("interrupted", "removed_chunks", "removed_originals", "replaced")


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def marker(folder: Path, doc_id: str, kind: str) -> Path:
    return folder / f".{doc_id}.{kind}.json"


def busy_ids(names: Iterable[str]) -> set[str]:
    """Document ids with a marker among these file names: work under way."""
    return {n.split(".")[1] for n in names if n.startswith(".") and n.count(".") == 3}


# -- interrupted uploads, per owner folder ------------------------------------------------
def interrupted(folder: Path) -> list[dict]:
    """Uploads a crash cut short (id, file, when), newest first, until dismissed."""
    records = read_json(folder / INTERRUPTED_FILE, [])
    return sorted(records, key=lambda r: r.get("when", ""), reverse=True)


def dismiss(folder: Path, ids: Iterable[str] | None = None) -> None:
    """Forget the given interrupted uploads (all of them when `ids` is None)."""
    gone = None if ids is None else set(ids)
    keep = [r for r in interrupted(folder) if gone is not None and r["id"] not in gone]
    write_or_remove(folder / INTERRUPTED_FILE, keep)


def forget(folder: Path, name: str) -> None:
    """A file indexed again under the same name needs no "upload it again" notice."""
    records = interrupted(folder)
    if any(r.get("file") == name for r in records):
        keep = [r for r in records if r.get("file") != name]
        try:
            write_or_remove(folder / INTERRUPTED_FILE, keep)
        except OSError:
            log.warning("could not update the interrupted uploads", exc_info=True)


# -- the start-up check ---------------------------------------------------------------------
def reconcile(client, uploads: Path, shared: bool) -> dict[str, int]:
    """Make Chroma, the stored originals (under `uploads`, a folder per owner key) and the
    markers agree after a crash; returns counts of what was done. Only for the process
    holding the storage lock, before it serves anyone: an ingestion under way elsewhere
    would look interrupted. `shared`: other replicas write to the same Chroma server."""
    names = collection_names(client)
    keys = {n[len(PREFIX) :] for n in names if n.startswith(PREFIX) and len(n) > len(PREFIX)}
    if uploads.is_dir():
        keys |= {p.name for p in uploads.iterdir() if p.is_dir()}
    totals = dict.fromkeys(COUNTS, 0)
    for key in sorted(keys):
        name = f"{PREFIX}{key}"
        collection = client.get_collection(name) if name in names else None
        for what, n in _reconcile_owner(collection, uploads / key, shared).items():
            totals[what] += n
    if any(totals.values()):
        log.warning("start-up check of the knowledge base: %s", totals)
    return totals


@dataclass
class _Folder:
    """What an owner's folder holds: markers by kind, originals by document id, and the
    temporary files of copies cut short."""

    markers: dict[str, dict[str, dict]] = field(default_factory=lambda: {PENDING: {}, DELETING: {}})
    originals: dict[str, Path] = field(default_factory=dict)
    leftovers: list[Path] = field(default_factory=list)

    @classmethod
    def read(cls, folder: Path) -> _Folder:
        out = cls()
        for path in sorted(folder.iterdir()) if folder.is_dir() else []:
            if not path.is_file():
                continue
            parts = path.name.split(".")
            if (
                len(parts) == 4
                and parts[0] == ""
                and parts[2] in out.markers
                and parts[3] == "json"
            ):
                out.markers[parts[2]][parts[1]] = {**read_json(path, {}), "_path": path}
            elif path.name.endswith(".tmp"):
                out.leftovers.append(path)  # a copy cut short
            elif not path.name.startswith("."):
                out.originals.setdefault(path.name.split(".")[0], path)
        return out


def _stored(collection) -> dict[str, tuple[set[int], dict]]:
    """file id -> (chunk indexes present, the metadata of one chunk)."""
    found: dict[str, tuple[set[int], dict]] = {}
    if collection is not None:
        for meta in get_all(collection, ["metadatas"])["metadatas"]:
            fid = meta.get("file_id")
            if fid:
                found.setdefault(fid, (set(), meta))[0].add(int(meta.get("chunk_index", -1)))
    return found


def _reconcile_owner(collection, folder: Path, shared: bool) -> dict[str, int]:
    found = _stored(collection)
    complete = {fid for fid, (indexes, _) in found.items() if 0 in indexes}
    for fid in complete:
        indexes, meta = found[fid]
        if len(indexes) != int(meta.get("doc_chunks", len(indexes))):
            log.warning("document %s has %d of its chunks; kept as it is", fid, len(indexes))
    held = _Folder.read(folder)
    pending = held.markers[PENDING]
    done = dict.fromkeys(COUNTS, 0)
    # A replacement cut short after its new version was complete: finish it.
    older: set[str] = set()
    for doc_id, record in pending.items():
        if doc_id in complete and not record.get("failed"):
            older |= {o for o in record.get("replaces", []) if o in complete and o != doc_id}
    # Everything that is not a complete document is a piece of something cut short. With
    # a shared Chroma server, pieces without a marker here may be another replica's
    # upload under way: only this replica's own uploads are judged, and an original of
    # its own without a marker is a document deleted through another replica.
    mine = set(held.originals) | set(pending)
    broken = (mine if shared else set(found) | mine) - complete
    done["interrupted"] = _report(folder, broken, found, held, shared)
    for doc_id in sorted(broken | older):
        if collection is not None and doc_id in found:
            # registry entry first (an older version is complete), then the rest
            collection.delete(where=registry_entry(doc_id))
            collection.delete(where={"file_id": doc_id})
            done["removed_chunks"] += len(found[doc_id][0])
        if doc_id in held.originals:
            held.originals[doc_id].unlink(missing_ok=True)
            done["removed_originals"] += 1
    done["replaced"] = len(older)
    for kind in held.markers.values():
        for record in kind.values():
            record["_path"].unlink(missing_ok=True)
    for path in held.leftovers:
        path.unlink(missing_ok=True)
    return done


def _report(folder: Path, broken: set[str], found: dict, held: _Folder, shared: bool) -> int:
    """Record the uploads cut short for their owner; returns how many. Recorded before
    anything is removed, so a second crash loses no report."""
    reports = []
    for doc_id in sorted(broken):
        pending = held.markers[PENDING].get(doc_id)
        if doc_id in held.markers[DELETING] or (pending and pending.get("failed")):
            continue  # a delete the owner asked for, or a failure they were told of
        if shared and not pending:
            continue  # an original alone: its document was deleted through a replica
        file = (pending or {}).get("file") or found.get(doc_id, (None, {}))[1].get("file")
        if not file:  # an original alone, from before markers existed: name unknown
            suffix = held.originals[doc_id].suffix[1:] if doc_id in held.originals else ""
            file = f"a {suffix.upper()} file" if suffix else "a file"
        when = (pending or {}).get("started") or found.get(doc_id, (None, {}))[1].get("added")
        reports.append({"id": doc_id, "file": file, "when": when or now()})
    if reports:
        path = folder / INTERRUPTED_FILE
        records = read_json(path, [])
        known = {r.get("id") for r in records}
        write_or_remove(path, records + [r for r in reports if r["id"] not in known])
    return len(reports)
