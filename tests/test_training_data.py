"""Training data read from files in every accepted shape (question/answer, instruction,
chat messages; JSONL, CSV, a JSON array), and the rows and files that are refused, each
with a message naming the line. Plain files only: no model is loaded."""

from __future__ import annotations

import hashlib
import json

import pytest

from tests.files import write_csv, write_jsonl
from webapp.adapters import datasets
from webapp.errors import DatasetError

QA = [("What is Brellmoor?", "A town founded in 1743."), ("Who is Osk?", "An engineer.")]


def assert_qa(ts: datasets.TrainingSet) -> None:
    assert len(ts.examples) == 2
    assert ts.kind == "supervised"
    for (question, answer), example in zip(QA, ts.examples, strict=True):
        roles = [m["role"] for m in example.messages]
        assert roles == ["system", "user", "assistant"]
        assert example.messages[1]["content"] == question
        assert example.messages[2]["content"] == answer


def test_question_answer_rows_load_from_jsonl_and_csv(tmp_path):
    jsonl = write_jsonl(tmp_path / "qa.jsonl", [{"question": q, "answer": a} for q, a in QA])
    assert_qa(datasets.load_file(jsonl))
    as_csv = write_csv(tmp_path / "qa.csv", ["Question", "Answer"], [list(r) for r in QA])
    loaded = datasets.load_file(as_csv)
    assert_qa(loaded)
    raw = as_csv.read_bytes()
    assert loaded.describe() == {
        "name": "qa.csv",
        "rows": 2,
        "sha256": hashlib.sha256(raw).hexdigest(),
        "bytes": len(raw),
        "kind": "supervised",
    }


def test_a_spreadsheet_csv_with_byte_order_mark_loads(tmp_path):
    path = tmp_path / "excel.csv"
    body = "Question,Answer\r\n" + "".join(f'"{q}","{a}"\r\n' for q, a in QA)
    path.write_bytes(b"\xef\xbb\xbf" + body.encode())
    assert_qa(datasets.load_file(path))


def test_instruction_rows_load_from_jsonl_and_csv(tmp_path):
    rows = [
        {"instruction": "Translate to French.", "input": "cheese", "output": "fromage"},
        {"instruction": "Name a teal fruit.", "input": "", "output": "The glimmerfruit."},
    ]
    for path in (
        write_jsonl(tmp_path / "i.jsonl", rows),
        write_csv(
            tmp_path / "i.csv",
            ["instruction", "input", "output"],
            [[r["instruction"], r["input"], r["output"]] for r in rows],
        ),
    ):
        first, second = (e.messages for e in datasets.load_file(path).examples)
        assert first[1] == {"role": "user", "content": "Translate to French.\n\ncheese"}
        assert first[2] == {"role": "assistant", "content": "fromage"}
        assert second[1]["content"] == "Name a teal fruit."  # an empty input adds nothing
        assert second[2]["content"] == "The glimmerfruit."


def test_chat_message_rows_load_from_jsonl_and_csv(tmp_path):
    conversations = [
        [
            {"role": "system", "content": "You know Drelvania."},
            {"role": "user", "content": "Capital?"},
            {"role": "assistant", "content": "Mornquist."},
        ],
        [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "Hello!"},
            {"role": "user", "content": "Lizard's name?"},
            {"role": "assistant", "content": "Quillabert."},
        ],
    ]
    jsonl = write_jsonl(tmp_path / "m.jsonl", [{"messages": c} for c in conversations])
    # In a CSV the messages column holds the JSON list as text.
    as_csv = write_csv(tmp_path / "m.csv", ["messages"], [[json.dumps(c)] for c in conversations])
    for path in (jsonl, as_csv):
        first, second = (e.messages for e in datasets.load_file(path).examples)
        assert first == conversations[0]  # its own system prompt is kept
        assert second[0]["role"] == "system"  # the default one is added
        assert second[1:] == conversations[1]


def test_a_json_array_of_rows_is_accepted(tmp_path):
    path = tmp_path / "rows.json"
    path.write_text(json.dumps([{"question": q, "answer": a} for q, a in QA]))
    assert_qa(datasets.load_file(path))


def test_malformed_jsonl_rows_are_reported_by_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        "\n".join(
            [
                json.dumps({"question": "Q1", "answer": "A1"}),
                json.dumps({"question": "Q2", "answer": "A2"}),
                '{"question": "Q3", "answer": ',  # line 3: invalid JSON
                json.dumps({"question": "Q4", "answer": "A4"}),
                json.dumps({"question": "Q5"}),  # line 5: no answer
                json.dumps({"messages": [{"role": "user", "content": "no reply"}]}),  # line 6
            ]
        )
    )
    with pytest.raises(DatasetError) as caught:
        datasets.load_file(path)
    message = str(caught.value)
    assert message.startswith("3 malformed row(s)")
    assert "line 3: not valid JSON" in message
    assert "line 5: 'answer' is missing or empty" in message
    assert "line 6: the last message must be a non-empty assistant answer" in message
    for good in ("line 1", "line 2", "line 4"):
        assert good not in message


def test_malformed_csv_rows_are_reported_by_spreadsheet_line(tmp_path):
    path = write_csv(
        tmp_path / "bad.csv",
        ["question", "answer"],
        [["Q2", "A2"], ["Q3", "A3"], ["Q4", "A4"], ["Q5", ""], ["", "A6"]],
    )
    with pytest.raises(DatasetError) as caught:
        datasets.load_file(path)
    message = str(caught.value)  # the header is line 1, so the empty answer is on line 5
    assert "line 5: 'answer' is missing or empty" in message
    assert "line 6: 'question' is missing or empty" in message
    assert "line 4" not in message
    assert "line 2" not in message


def test_unusable_files_are_refused_with_clear_messages(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(DatasetError, match="empty"):
        datasets.load_file(empty)
    header_only = tmp_path / "header.csv"
    header_only.write_text("question,answer\n")
    with pytest.raises(DatasetError, match="no rows"):
        datasets.load_file(header_only)
    blank_lines = tmp_path / "blank.jsonl"
    blank_lines.write_text("\n\n   \n")
    with pytest.raises(DatasetError, match="no rows"):
        datasets.load_file(blank_lines)
    text = tmp_path / "notes.txt"
    text.write_text("question: hi\nanswer: hello\n")
    with pytest.raises(DatasetError, match=r"\.jsonl or \.csv"):
        datasets.load_file(text)
    pdf = tmp_path / "facts.pdf"
    pdf.write_bytes(b"%PDF-1.4\n\x00\x01\x02 binary")
    with pytest.raises(DatasetError, match=r"\.jsonl or \.csv"):
        datasets.load_file(pdf)
    binary = tmp_path / "binary.jsonl"
    binary.write_bytes(b"\x00\x01\x02\x03" * 64)
    with pytest.raises(DatasetError, match="not readable text"):
        datasets.load_file(binary)
    unknown = write_jsonl(tmp_path / "unknown.jsonl", [{"prompt": "x", "completion": "y"}])
    with pytest.raises(DatasetError, match="line 1: expected question/answer"):
        datasets.load_file(unknown)


def test_oversized_files_are_refused(tmp_path, monkeypatch):
    rows = [{"question": f"Q{i}", "answer": f"A{i}"} for i in range(5)]
    path = write_jsonl(tmp_path / "big.jsonl", rows)
    monkeypatch.setattr(datasets, "MAX_ROWS", 3)
    with pytest.raises(DatasetError, match="The set has more than 3 rows; the limit is 3"):
        datasets.load_file(path)
    monkeypatch.setattr(datasets, "MAX_ROWS", 20_000)
    monkeypatch.setattr(datasets, "MAX_BYTES", 64)
    with pytest.raises(DatasetError, match="the limit is"):
        datasets.load_file(path)
