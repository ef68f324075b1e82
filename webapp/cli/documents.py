"""`webapp ingest PATH...` and `webapp docs list | delete ID`."""

from __future__ import annotations

import json
from pathlib import Path


def cmd_ingest(services, args) -> int:
    """One line per file; exit 1 if any failed (after the others were indexed)."""
    failed = 0
    for path in _files(args.paths):
        if not path.is_file():
            print(f"{path.name}: failed: no such file")
            failed += 1
            continue
        result = services.knowledge.ingest(args.owner, path, path.name)
        print(f"{result.file}: {result.describe()}", flush=True)
        failed += not result.ok
    return 1 if failed else 0


def _files(paths: list[Path]) -> list[Path]:
    """The paths given, a folder as every supported file inside (hidden ones left out)."""
    from webapp.knowledge.formats import KINDS

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in KINDS and not p.name.startswith(".")
            )
        else:
            files.append(path)
    return files


def cmd_docs(services, args) -> int:
    owner = args.owner
    if args.docs_command == "delete":
        info = services.knowledge.delete(owner, args.id)
        print(f"deleted {info.file} ({info.id})")
        return 0
    docs = services.knowledge.list_documents(owner)
    if args.json:
        print(json.dumps([d.as_dict() for d in docs]))
        return 0
    if not docs:
        print("No documents yet. Add some with: webapp ingest PATH...")
    for d in docs:
        pages = f"{d.pages} pages, " if d.pages is not None else ""
        print(f"{d.id}  {d.file}  ({pages}{d.chunks} chunks, {d.bytes} bytes, added {d.added})")
    return 0
