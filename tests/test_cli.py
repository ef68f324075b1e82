"""The CLI end to end, as separate processes on a temp WEBAPP_STORAGE_DIR."""

from __future__ import annotations

import json

import pytest

from tests import SOURCE_KEYS, files

pytestmark = pytest.mark.slow


webapp = files.run_webapp


def test_ingest_ask_list_delete(tmp_path):
    storage = tmp_path / "store"
    fact = tmp_path / "harbour.txt"
    fact.write_text("The harbour of Quenby is guarded by a bronze walrus named Osgood.")
    pdf = files.write_pdf(
        tmp_path / "manual.pdf", ["Chapter 3 explains how to calibrate the spectrometer."]
    )
    bad = tmp_path / "broken.pdf"
    bad.write_text("not really a pdf")

    run = webapp("ingest", str(fact), str(bad), str(pdf), storage=storage)
    assert run.returncode == 1, run.stderr  # one file failed, after the others were indexed
    lines = run.stdout.strip().splitlines()
    assert lines[0].startswith("harbour.txt: indexed 1 chunk")
    assert lines[1].startswith("broken.pdf: failed:")
    assert "not a PDF" in lines[1]
    assert lines[2].startswith("manual.pdf: indexed")

    again = webapp("ingest", str(fact), storage=storage)
    assert again.returncode == 0
    assert "unchanged" in again.stdout

    listed = webapp("docs", "list", "--json", storage=storage)
    docs = json.loads(listed.stdout)
    assert sorted(d["file"] for d in docs) == ["harbour.txt", "manual.pdf"]
    for d in docs:
        assert set(d) == {"id", "file", "chunks", "pages", "bytes", "added"}
    assert next(d for d in docs if d["file"] == "manual.pdf")["pages"] == 1

    asked = webapp("ask", "What guards the harbour of Quenby?", "--json", storage=storage)
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert "walrus" in answer["answer"].lower()
    assert answer["rag"] is True
    assert answer["adapter"] is None
    assert answer["grounded"] in (True, False)
    assert answer["sources"][0]["file"] == "harbour.txt"
    assert set(answer["sources"][0]) == SOURCE_KEYS

    plain = webapp(
        "ask", "Say hello.", "--no-rag", "--json", "--max-new-tokens", "16", storage=storage
    )
    assert json.loads(plain.stdout)["rag"] is False

    doc_id = next(d["id"] for d in docs if d["file"] == "harbour.txt")
    deleted = webapp("docs", "delete", doc_id, storage=storage)
    assert deleted.returncode == 0
    assert "harbour.txt" in deleted.stdout
    remaining = json.loads(webapp("docs", "list", "--json", storage=storage).stdout)
    assert [d["file"] for d in remaining] == ["manual.pdf"]

    missing = webapp("docs", "delete", doc_id, storage=storage)
    assert missing.returncode == 2
    assert "does not exist" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_storage_dir_is_honoured(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    note = tmp_path / "n.md"
    note.write_text("# Note\nOnly in store one.")
    assert webapp("ingest", str(note), storage=one).returncode == 0
    assert json.loads(webapp("docs", "list", "--json", storage=two).stdout) == []
    assert (one / "chroma").is_dir()
    assert not (two / "uploads").exists()


def test_ingest_folder_and_missing_path(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "a.md").write_text("# A\nalpha")
    (folder / "b.txt").write_text("beta")
    (folder / "ignored.bin").write_bytes(b"\x00\x01")
    run = webapp("ingest", str(folder), str(tmp_path / "nope.txt"), storage=tmp_path / "s")
    assert run.returncode == 1
    assert "a.md: indexed" in run.stdout
    assert "b.txt: indexed" in run.stdout
    assert "nope.txt: failed: no such file" in run.stdout
    assert "ignored.bin" not in run.stdout
