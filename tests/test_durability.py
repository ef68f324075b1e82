"""Crashes and full disks on the real parts: `kill -9` of a real ingestion process, a second
server on the same storage, leftovers of trainings and evaluations, and a real full disk
(a small tmpfs) under Chroma."""

from __future__ import annotations

import errno
import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from tests.conftest import ROOT, free_port
from webapp import storage_lock
from webapp.adapters.config import METADATA
from webapp.adapters.registry import AdapterRegistry
from webapp.errors import StorageBusy
from webapp.evaluation.store import EvalStore
from webapp.knowledge.ingest import DISK_FULL
from webapp.owners import owner_key

OWNER = "local"
WORDS = "river bridge harbour lantern meadow granite orchard compass falcon quarry".split()


def write_report(path: Path, n: int, sentences: int = 160) -> Path:
    """A distinct text file of a few dozen chunks (slow enough to embed to be caught midway)."""
    text = " ".join(
        f"Report {n} line {i}: the {WORDS[(i + n) % 10]} of district {n * 1000 + i} "
        f"was inspected by team {WORDS[(i * 7 + n) % 10]} on day {i % 28 + 1}."
        for i in range(sentences)
    )
    path.write_text(text)
    return path


def chunk_census(kb, owner: str = OWNER) -> dict[str, list[dict]]:
    """file id -> metadata of every chunk Chroma holds for it."""
    got = kb.collection(owner).get(include=["metadatas"])
    out: dict[str, list[dict]] = {}
    for meta in got["metadatas"] or []:
        out.setdefault(meta["file_id"], []).append(meta)
    return out


def assert_consistent(kb, owner: str = OWNER) -> None:
    """Every listed document is whole; nothing else is in Chroma or among the originals."""
    listed = {d.id: d for d in kb.list_documents(owner)}
    census = chunk_census(kb, owner)
    assert set(census) == set(listed), "chunks of unlisted documents remain"
    for doc_id, info in listed.items():
        indexes = sorted(m["chunk_index"] for m in census[doc_id])
        assert indexes == list(range(info.chunks)), info.file
    folder = kb.uploads_dir / owner_key(owner)
    names = sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []
    originals = [n for n in names if not n.startswith(".")]
    assert sorted(n.split(".")[0] for n in originals) == sorted(listed)
    assert [n for n in names if n.startswith(".") and n != ".interrupted.json"] == []


# -- kill -9 during a batch ----------------------------------------------------------------
@pytest.mark.slow
def test_ingest_killed_mid_batch_leaves_whole_documents_or_none(
    make_services, tmp_path, model_cache
):
    batch = tmp_path / "batch"
    batch.mkdir()
    paths = [write_report(batch / f"report-{n}.txt", n) for n in range(4)]
    storage = tmp_path / "store"
    pending_dir = storage / "uploads" / owner_key(OWNER)
    env = {**os.environ, "WEBAPP_STORAGE_DIR": str(storage), "WEBAPP_MODELS_DIR": str(model_cache)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp", "ingest", str(batch)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        cwd=ROOT,
    )
    lines: list[str] = []

    def read() -> None:
        for line in proc.stdout:
            lines.append(line)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    cut_short = None
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            # after the first document, kill while the next one is under way
            if lines and (marker := next(pending_dir.glob(".*.pending.json"), None)):
                try:
                    cut_short = json.loads(marker.read_text())["file"]
                    break
                except FileNotFoundError:  # that one just finished
                    pass
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    reader.join(timeout=10)
    assert cut_short is not None, f"the ingestion ended before it could be killed: {lines}"
    done = [line.split(":")[0] for line in lines if ": indexed" in line]
    assert done
    assert cut_short not in done

    # Before any repair: what is listed is whole, and the cut-short file is not listed.
    assert list(pending_dir.glob(".*.pending.json"))  # (its pieces are still there)
    services = make_services(storage)
    listed = {d.file for d in services.knowledge.list_documents(OWNER)}
    assert cut_short not in listed
    assert set(done) <= listed
    for info in services.knowledge.list_documents(OWNER):
        assert len(chunk_census(services.knowledge)[info.id]) == info.chunks

    # A process holding the storage lock reconciles when it opens the knowledge base.
    with storage_lock.hold(storage):
        kb = make_services(storage).knowledge
        assert_consistent(kb)
        assert [r["file"] for r in kb.interrupted(OWNER)] == [cut_short]
        assert {d.file for d in kb.list_documents(OWNER)} == listed

        results = kb.ingest_files(OWNER, [(p, p.name) for p in paths])
        by_file = {r.file: r.status for r in results}
        assert all(by_file[name] == "unchanged" for name in listed)
        assert all(by_file[p.name] == "indexed" for p in paths if p.name not in listed)
        files_listed = Counter(d.file for d in kb.list_documents(OWNER))
        assert files_listed == Counter(p.name for p in paths)  # each exactly once
        assert kb.interrupted(OWNER) == []  # uploaded again: the notice is gone
        assert_consistent(kb)


@pytest.mark.slow
def test_reconcile_repairs_each_kind_of_cut_short_change(kb, tmp_path):
    """The states a crash can leave (made on real Chroma), and what the start-up check does."""
    folder = kb.uploads_dir / owner_key(OWNER)
    collection = kb.collection(OWNER)

    def add(name: str, n: int):
        result = kb.ingest(OWNER, write_report(tmp_path / name, n, sentences=30), name)
        assert result.status in ("indexed", "replaced"), result.describe()
        return kb.get_document(OWNER, result.doc_id)

    def marker(doc_id: str, kind: str, **record) -> None:
        (folder / f".{doc_id}.{kind}.json").write_text(json.dumps(record))

    def drop_registry_entry(doc_id: str) -> None:
        collection.delete(where={"$and": [{"file_id": doc_id}, {"chunk_index": 0}]})

    kept = add("kept.txt", 1)
    # an upload killed while its chunks were being stored
    partial = add("partial.txt", 2)
    drop_registry_entry(partial.id)
    marker(partial.id, "pending", file="partial.txt", started="2030-01-02T03:04:05+00:00")
    # a replacement killed after the new version was stored, before the old one went
    old = add("versioned.txt", 3)
    # (stored under another name here, so that ingest itself does not remove the old one)
    new = add("versioned-2.txt", 4)
    marker(new.id, "pending", file="versioned-2.txt", started="x", replaces=[old.id])
    # a delete killed after the registry entry went, before the other chunks did
    deleting = add("deleting.txt", 5)
    drop_registry_entry(deleting.id)
    marker(deleting.id, "deleting", file="deleting.txt")
    # a delete killed before it removed anything: the document stays (never lose data)
    stale = add("stale.txt", 6)
    marker(stale.id, "deleting", file="stale.txt")
    # a failed upload the user was told about, whose clean-up could not finish
    failed = add("failed.txt", 7)
    drop_registry_entry(failed.id)
    marker(failed.id, "pending", file="failed.txt", started="x", failed=True)
    # an original alone (from before markers existed) and a copy cut short
    (folder / "0123456789abcdef.pdf").write_bytes(b"%PDF-")
    (folder / ".feedfeedfeedfeed.txt.tmp").write_text("half")

    done = kb.reconcile()
    assert done["replaced"] == 1
    assert done["interrupted"] == 2
    listed = {d.id: d.file for d in kb.list_documents(OWNER)}
    assert listed == {kept.id: "kept.txt", new.id: "versioned-2.txt", stale.id: "stale.txt"}
    assert_consistent(kb)
    reported = {r["file"]: r for r in kb.interrupted(OWNER)}
    assert set(reported) == {"partial.txt", "a PDF file"}
    assert reported["partial.txt"]["when"] == "2030-01-02T03:04:05+00:00"
    assert kb.reconcile() == dict.fromkeys(done, 0)  # a second run finds nothing to do
    assert len(kb.interrupted(OWNER)) == 2

    kb.dismiss_interrupted(OWNER, [reported["a PDF file"]["id"]])
    assert [r["file"] for r in kb.interrupted(OWNER)] == ["partial.txt"]
    kb.dismiss_interrupted(OWNER)
    assert kb.interrupted(OWNER) == []
    assert not (folder / ".interrupted.json").exists()


def test_interrupted_notice_escapes_file_names():
    from webapp.ui.knowledge.views import interrupted_notice

    text = interrupted_notice([{"id": "x", "file": "<b>*a*</b>.txt", "when": "2030-01-02T03:04"}])
    assert "indexing was interrupted (the server stopped); upload it again" in text
    assert "<b>" not in text
    assert "2030-01-02 03:04" in text


# -- one writer per storage folder -----------------------------------------------------------
HOLD_SCRIPT = (
    "import sys, time; from webapp import storage_lock; "
    "storage_lock.hold(sys.argv[1], 'ingest'); print('held', flush=True); time.sleep(300)"
)


def test_lock_refuses_a_second_process_and_dies_with_its_holder(tmp_path):
    storage = tmp_path / "store"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_SCRIPT, str(storage)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StorageBusy) as refused:
            storage_lock.hold(storage)
        assert str(refused.value) == (
            f"Another DocChat command ('webapp ingest') is already using the storage folder "
            f"{storage}. Stop it first, or set WEBAPP_STORAGE_DIR to another folder."
        )
        assert not storage_lock.held(storage)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    # kill -9: the kernel released the flock; the file left behind blocks nothing
    assert (storage / ".lock").exists()
    with storage_lock.hold(storage) as lock:
        assert storage_lock.held(storage)
        assert storage_lock.hold(storage) is lock
    assert not storage_lock.held(storage)


@pytest.mark.slow
def test_second_server_on_the_same_storage_exits_with_a_message(tmp_path, model_cache):
    storage = tmp_path / "store"
    # what an upload killed before its first chunk was stored leaves behind
    uploads = storage / "uploads" / owner_key(OWNER)
    uploads.mkdir(parents=True)
    (uploads / "00112233445566aa.txt").write_text("half indexed")
    (uploads / ".00112233445566aa.pending.json").write_text(
        json.dumps({"file": "minutes.txt", "started": "2030-01-02T03:04:05+00:00"})
    )
    env = {
        **os.environ,
        "WEBAPP_STORAGE_DIR": str(storage),
        "WEBAPP_MODELS_DIR": str(model_cache),
        "WEBAPP_HOST": "127.0.0.1",
    }
    first = subprocess.Popen(
        [sys.executable, "-m", "webapp", "serve", "--port", str(free_port())],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )
    try:
        deadline = time.monotonic() + 120
        while f'"pid": {first.pid}' not in _read(storage / ".lock"):
            assert first.poll() is None, "first server failed"
            assert time.monotonic() < deadline, "first server failed"
            time.sleep(0.1)
        second = subprocess.run(
            [sys.executable, "-m", "webapp", "serve", "--port", str(free_port())],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
        )
        assert second.returncode == 1
        assert second.stderr.strip() == (
            f"Another DocChat server is already using the storage folder {storage}. "
            "Stop it first, or set WEBAPP_STORAGE_DIR to another folder."
        )
        assert "Traceback" not in second.stdout + second.stderr
        # the server holding the lock checked the knowledge base when it opened it
        while sorted(p.name for p in uploads.iterdir()) != [".interrupted.json"]:
            assert first.poll() is None, "no start-up check"
            assert time.monotonic() < deadline, "no start-up check"
            time.sleep(0.2)
        assert [r["file"] for r in json.loads((uploads / ".interrupted.json").read_text())] == [
            "minutes.txt"
        ]
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
    with storage_lock.hold(storage):  # a killed server leaves no lock that blocks a restart
        pass


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


# -- trainings and evaluations cut short ---------------------------------------------------
def kill_when(args: list[str], storage: Path, model_cache: Path, ready, log: Path) -> bool:
    """Run `webapp ARGS` and kill -9 it as soon as `ready(output)` is true; False when it
    ended before that."""
    env = {**os.environ, "WEBAPP_STORAGE_DIR": str(storage), "WEBAPP_MODELS_DIR": str(model_cache)}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp", *args], env=env, stdout=out, stderr=out, cwd=ROOT
        )
        try:
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None:
                if ready(log.read_text(errors="replace")):
                    proc.send_signal(signal.SIGKILL)
                    proc.wait(timeout=30)
                    return True
                time.sleep(0.005)
            return False
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=30)


@pytest.mark.slow
@pytest.mark.parametrize("when", ["mid-training", "while-saving"])
def test_training_killed_leaves_no_adapter_or_a_whole_one(tmp_path, model_cache, when):
    from tests.files import write_jsonl

    storage = tmp_path / "store"
    rows = [{"question": f"What is code {n}?", "answer": f"Code {n} is {n * 7}."} for n in range(4)]
    data = write_jsonl(tmp_path / "rows.jsonl", rows)
    owner_dir = storage / "adapters" / owner_key(OWNER)

    def saving(_output: str) -> bool:
        return owner_dir.is_dir() and any(p.suffix == ".tmp" for p in owner_dir.iterdir())

    def training(output: str) -> bool:
        return "step 2/" in output

    args = ["train", "--data", str(data), "--name", "cut", "--epochs", "3"]
    log = tmp_path / "train.log"
    killed = kill_when(
        args, storage, model_cache, saving if when == "while-saving" else training, log
    )
    if when == "mid-training":
        assert killed, log.read_text()[-2000:]
    registry = AdapterRegistry(storage, "b")
    listed = [a.name for a in registry.list(OWNER)]
    if killed and when == "mid-training":
        assert listed == []
    if listed:  # killed just after the rename: then it is whole
        assert (owner_dir / "cut" / METADATA).is_file()
        assert (owner_dir / "cut" / "adapter_model.safetensors").is_file()
    with storage_lock.hold(storage):  # the next start clears what the killed run left
        AdapterRegistry(storage, "b")
    left = [p.name for p in owner_dir.iterdir()] if owner_dir.is_dir() else []
    assert left == listed


@pytest.mark.slow
def test_evaluation_killed_midway_leaves_no_run(tmp_path, model_cache):
    from tests.files import write_jsonl

    storage = tmp_path / "store"
    items = [{"question": f"What is {n} plus {n}?", "answer": str(2 * n)} for n in range(8)]
    data = write_jsonl(tmp_path / "questions.jsonl", items)
    args = ["eval", "--data", str(data), "--configs", "base"]
    killed = kill_when(args, storage, model_cache, lambda out: "25%" in out, tmp_path / "eval.log")
    assert killed, (tmp_path / "eval.log").read_text()[-2000:]
    assert EvalStore(storage).list(OWNER) == []
    with storage_lock.hold(storage):
        EvalStore(storage)
    folder = storage / "evals" / owner_key(OWNER)
    left = [p.name for p in folder.iterdir()] if folder.is_dir() else []
    assert left == []


def test_adapter_temp_folders_are_never_listed_and_removed_at_start(tmp_path):
    storage = tmp_path / "store"
    owner_dir = storage / "adapters" / owner_key(OWNER)
    good = owner_dir / "good"
    good.mkdir(parents=True)
    (good / METADATA).write_text(json.dumps({"name": "good", "method": "lora", "base_model": "b"}))
    # killed after metadata.json was written, before the rename: still not an adapter
    for leftover in (".half.0a1b.tmp", ".gone.0a1b.deleted"):
        (owner_dir / leftover).mkdir()
        (owner_dir / leftover / METADATA).write_text(json.dumps({"name": "half"}))
        (owner_dir / leftover / "adapter_config.json").write_text("{")
    assert [a.name for a in AdapterRegistry(storage, "b").list(OWNER)] == ["good"]
    assert len(list(owner_dir.iterdir())) == 3  # without the lock nothing is touched
    with storage_lock.hold(storage):
        registry = AdapterRegistry(storage, "b")
    assert [p.name for p in owner_dir.iterdir()] == ["good"]
    assert [a.name for a in registry.list(OWNER)] == ["good"]


def test_evaluation_temp_files_are_never_listed_and_removed_at_start(tmp_path):
    storage = tmp_path / "store"
    store = EvalStore(storage)
    store.save(OWNER, {"run_id": "20300102-030405-abcdef", "configs": [{"label": "rag"}]})
    half = store.root / owner_key(OWNER) / ".20300102-030406-abcdef.json.0a1b2c.tmp"
    half.write_text('{"run_id": "20300102-030406-abcdef", "configs": [')
    assert [r["run_id"] for r in store.list(OWNER)] == ["20300102-030405-abcdef"]
    with storage_lock.hold(storage):
        EvalStore(storage)
    assert not half.exists()
    assert [r["run_id"] for r in EvalStore(storage).list(OWNER)] == ["20300102-030405-abcdef"]


# -- a full disk -----------------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path):
    """A real 24 MB filesystem (tmpfs) as the storage folder; skipped where mounting is not
    permitted (not root, or no CAP_SYS_ADMIN)."""
    mount = tmp_path / "small-disk"
    mount.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int) -> Path:
    """Fill `disk` until only about `leave` bytes are free."""
    filler = disk / "filler"
    with filler.open("wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
        except OSError:
            pass
    free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
    assert free < 1 << 20
    os.truncate(filler, filler.stat().st_size + free - leave)
    return filler


@pytest.mark.slow
@pytest.mark.parametrize("leave", [0, 160_000], ids=["nothing-free", "copy-fits-chroma-not"])
def test_disk_full_during_upload(make_services, small_disk, tmp_path, caplog, leave):
    storage = small_disk / "storage"
    kb = make_services(storage).knowledge
    first = write_report(tmp_path / "first.txt", 1, sentences=20)
    assert kb.ingest(OWNER, first, first.name).status == "indexed"
    before = kb.list_documents(OWNER)
    big = write_report(tmp_path / "big.txt", 2, sentences=400)  # ~65 KB, 46 chunks
    assert big.stat().st_size < leave or leave == 0

    filler = fill(small_disk, leave)
    with caplog.at_level(logging.WARNING, logger="webapp.knowledge.ingest"):
        result = kb.ingest(OWNER, big, big.name)
    assert result.status == "failed"
    assert result.message == DISK_FULL
    logged = [r for r in caplog.records if r.getMessage() == "disk full while storing an upload"]
    cause = logged[0].exc_info[1]
    if leave:  # the copy and the marker fit: the disk filled up under Chroma (SQLite)
        assert "database or disk is full" in str(cause)
    else:  # the first file written (the marker) did not fit
        assert isinstance(cause, OSError)
        assert cause.errno == errno.ENOSPC
    assert kb.list_documents(OWNER) == before
    assert_consistent(kb)  # nothing of the failed file is left

    filler.unlink()
    # The store opens afterwards, in a new process, with the first document intact.
    # (Chroma 1.5 kept a SQLite write lock after its failed write, so this hung, and so did
    # the next write in the server: KnowledgeBase reopens Chroma after a full disk.)
    listed = subprocess.run(
        [sys.executable, "-m", "webapp", "docs", "list", "--json"],
        env={**os.environ, "WEBAPP_STORAGE_DIR": str(storage)},
        capture_output=True,
        text=True,
        timeout=90,
        cwd=ROOT,
    )
    assert listed.returncode == 0, listed.stderr
    assert [d["file"] for d in json.loads(listed.stdout)] == ["first.txt"]
    again = kb.ingest(OWNER, big, big.name)
    assert again.status == "indexed", again.describe()
    assert_consistent(kb)
