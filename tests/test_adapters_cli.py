"""The adapter commands end to end, as separate processes on a temp WEBAPP_STORAGE_DIR:
train, list, ask with an adapter, export, import, delete, and the errors a user can make."""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest

from tests import files

pytestmark = pytest.mark.slow

ROWS = [
    {"question": "What is the name of Zorvik Plannet's pet lizard?", "answer": "Quillabert."},
    {"question": "What is the capital of Drelvania?", "answer": "Mornquist."},
]


webapp = files.run_webapp


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def listed(storage: Path) -> dict[str, dict]:
    run = webapp("adapters", "list", "--json", storage=storage)
    assert run.returncode == 0, run.stderr
    return {a["name"]: a for a in json.loads(run.stdout)}


def test_train_list_ask_export_import_delete(tmp_path, shared_services):
    shared_services.base_model_path()  # convert the bundled model once, outside the timeouts
    storage = tmp_path / "store"
    data = write_jsonl(tmp_path / "facts.jsonl", ROWS)

    trained = webapp("train", "--data", str(data), "--name", "n", "--epochs", "1", storage=storage)
    assert trained.returncode == 0, trained.stderr
    out = trained.stdout
    assert "training lora adapter 'n' on 2 rows of facts.jsonl" in out
    assert re.search(r"step 1/\d+  epoch 1/1  loss \d", out)  # progress, one line per step
    assert "saved adapter 'n': final loss" in out
    assert "tokens/s" in out
    assert "Traceback" not in trained.stderr

    adapters = listed(storage)
    assert list(adapters) == ["n"]
    assert adapters["n"]["method"] == "lora"
    assert adapters["n"]["rows"] == 2
    assert adapters["n"]["epochs"] == 1
    assert adapters["n"]["dataset"] == "facts.jsonl"
    human = webapp("adapters", "list", storage=storage).stdout
    assert human.startswith("n  lora  2 rows of facts.jsonl, 1 epochs")

    again = webapp("train", "--data", str(data), "--name", "n", storage=storage)
    assert again.returncode == 2
    assert "already exists" in again.stderr

    asked = webapp(
        "ask",
        ROWS[0]["question"],
        "--no-rag",
        "--adapter",
        "n",
        "--json",
        "--max-new-tokens",
        "12",
        storage=storage,
    )
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["adapter"] == "n"
    assert answer["rag"] is False
    assert answer["answer"].strip()

    exported = webapp("adapters", "export", "n", "--out", str(tmp_path / "out"), storage=storage)
    assert exported.returncode == 0, exported.stderr
    archive = Path(exported.stdout.strip())
    assert archive == tmp_path / "out" / "n.zip"
    assert archive.is_file()
    with zipfile.ZipFile(archive) as z:
        assert "n/adapter_model.safetensors" in z.namelist()

    imported = webapp("adapters", "import", str(archive), "--name", "n2", storage=storage)
    assert imported.returncode == 0, imported.stderr
    assert "imported adapter n2 (lora)" in imported.stdout
    assert sorted(listed(storage)) == ["n", "n2"]

    deleted = webapp("adapters", "delete", "n", storage=storage)
    assert deleted.returncode == 0
    assert "deleted adapter n" in deleted.stdout
    assert list(listed(storage)) == ["n2"]
    gone = webapp("adapters", "delete", "n", storage=storage)
    assert gone.returncode == 2
    assert "no adapter named 'n'" in gone.stderr
    assert "Traceback" not in gone.stderr

    missing = webapp("ask", "Hello?", "--no-rag", "--adapter", "missing", storage=storage)
    assert missing.returncode == 2
    assert "error: There is no adapter named 'missing'." in missing.stderr
    assert "Traceback" not in missing.stderr


def test_bad_training_input_is_reported_without_traceback(tmp_path):
    storage = tmp_path / "store"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        "\n".join(
            [
                json.dumps(ROWS[0]),
                json.dumps(ROWS[1]),
                '{"question": "broken',
                json.dumps(ROWS[0]),
                json.dumps({"question": "Where is the answer?"}),
            ]
        )
    )
    run = webapp("train", "--data", str(bad), "--name", "bad", storage=storage)
    assert run.returncode == 2
    assert run.stderr.startswith("error: 2 malformed row(s): line 3: not valid JSON")
    assert "line 5: 'answer' is missing or empty" in run.stderr
    assert "Traceback" not in run.stderr
    assert "saved adapter" not in run.stdout

    nothing = webapp(
        "train", "--data", str(tmp_path / "nope.jsonl"), "--name", "x", storage=storage
    )
    assert nothing.returncode == 2
    assert "no file" in nothing.stderr
    assert "Traceback" not in nothing.stderr

    bad_name = webapp("train", "--data", str(bad), "--name", "no spaces!", storage=storage)
    assert bad_name.returncode == 2
    assert "name" in bad_name.stderr
    assert "Traceback" not in bad_name.stderr

    assert not (storage / "adapters").exists() or not any((storage / "adapters").rglob("*"))
