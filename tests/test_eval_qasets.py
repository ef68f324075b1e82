"""Question sets: loading with plain messages, splitting by document, saving, building."""

import json

import pytest

from tests.files import write_csv, write_jsonl
from webapp.adapters import question_builder
from webapp.errors import DatasetError, InvalidOption
from webapp.evaluation import qasets
from webapp.evaluation.runner import EvalConfig


def test_loads_jsonl_with_all_optional_fields(tmp_path):
    path = write_jsonl(
        tmp_path / "qa.jsonl",
        [
            {
                "question": "When?",
                "answer": "1889",
                "source": "a.pdf",
                "page": 3,
                "paraphrase": "In which year?",
            },
            {"question": "Who is the CEO of Mars?", "answer": "", "answerable": False},
        ],
    )
    qaset = qasets.load_file(path)
    assert qaset.name == "qa"
    first, second = qaset.items
    assert (first.source, first.page, first.paraphrase) == ("a.pdf", 3, "In which year?")
    assert second.answerable is False


def test_csv_works_too(tmp_path):
    path = write_csv(tmp_path / "qa.csv", ["Question", "Answer", "Page"], [["Q?", "A", "2"]])
    assert qasets.load_file(path).items[0].page == 2


def test_malformed_rows_are_named_by_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text(
        '{"question": "ok?", "answer": "yes"}\nnot json\n{"answer": "x"}\n'
        '{"question": "q", "answer": "a", "page": "three"}\n'
    )
    with pytest.raises(DatasetError) as err:
        qasets.load_file(path)
    message = str(err.value)
    assert "3 malformed" in message
    assert "line 2" in message
    assert "line 3" in message
    assert "line 4" in message
    assert "page" in message


@pytest.mark.parametrize("name", ["qa.pdf", "empty.jsonl"])
def test_wrong_or_empty_files_are_refused(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"%PDF-1.4" if name.endswith(".pdf") else b"")
    with pytest.raises(DatasetError):
        qasets.load_file(path)


def items_for(documents: int, per_document: int = 3):
    return [
        qasets.QAItem(f"q{d}-{i}?", f"a{d}-{i}", source=f"doc{d}.txt")
        for d in range(documents)
        for i in range(per_document)
    ]


def test_split_keeps_each_document_on_one_side():
    split = qasets.split_by_document(items_for(10), test_share=0.5)
    sides = {}
    for item in split:
        sides.setdefault(item.source, set()).add(item.split)
    assert all(len(s) == 1 for s in sides.values())
    train = {i.source for i in split if i.split == "train"}
    test = {i.source for i in split if i.split == "test"}
    assert train
    assert test
    assert not train & test
    assert len(test) == 5
    # the training rows made from the train split never include a test question
    rows = qasets.training_set([i for i in split if i.split == "train"], "t")
    asked = {e.messages[1]["content"] for e in rows.examples}
    assert asked.isdisjoint({i.question for i in split if i.split == "test"})


def test_split_is_reproducible_and_two_documents_split_one_each():
    a = qasets.split_by_document(items_for(6), seed=3)
    b = qasets.split_by_document(items_for(6), seed=3)
    assert [i.split for i in a] == [i.split for i in b]
    two = qasets.split_by_document(items_for(2))
    assert {i.split for i in two} == {"train", "test"}


def test_asking_for_a_missing_split_says_so():
    with pytest.raises(DatasetError, match="no test split"):
        qasets.QASet("s", items_for(2)).only("test")


def test_saved_sets_are_per_owner_and_reload(tmp_path):
    store = qasets.QASetStore(tmp_path)
    store.save("alice", qasets.QASet("facts", items_for(2)))
    assert store.list("alice") == ["facts"]
    assert store.list("bob") == []
    assert [i.question for i in store.load("alice", "facts").items] == [
        i.question for i in items_for(2)
    ]
    with pytest.raises(DatasetError):
        store.load("bob", "facts")
    with pytest.raises(InvalidOption):
        store.save("alice", qasets.QASet("../escape", items_for(1)))


@pytest.mark.parametrize(
    ("sentence", "question", "answer"),
    [
        (
            "The Eiffel Tower was completed in 1889 for the fair.",
            "The Eiffel Tower was completed in what year for the fair?",
            "1889",
        ),
        (
            "The bridge spans 1,280 metres across the strait.",
            "The bridge spans how many metres across the strait?",
            "1,280 metres",
        ),
        (
            "The treaty was signed on 4 July 1776 in Philadelphia.",
            "The treaty was signed on what date in Philadelphia?",
            "4 July 1776",
        ),
        (
            "Marie Curie won the Nobel Prize in Physics.",
            "Who won the Nobel Prize in Physics?",
            "Marie Curie",
        ),
        (
            "The tower was designed by Maurice Koechlin and Emile Nouguier.",
            "The tower was designed by whom?",
            "Maurice Koechlin and Emile Nouguier",
        ),
        (
            "About 12% of the staff work remotely today.",
            "About what percentage of the staff work remotely today?",
            "12%",
        ),
    ],
)
def test_extractive_questions(sentence, question, answer):
    assert question_builder.question_from(sentence) == (question, answer)


@pytest.mark.parametrize(
    "sentence",
    [
        "It was completed in 1889 for the fair.",  # a pronoun: unclear out of context
        "Short one in 1889.",
        "Is this a question about 1889?",
        "nothing here to ask about at all really.",
    ],
)
def test_sentences_that_make_no_good_question(sentence):
    assert question_builder.question_from(sentence) is None


def test_config_names_parse_both_ways():
    configs = EvalConfig.parse_list("base, rag, adapter:facts, adapter:facts+rag, rag")
    assert [c.name for c in configs] == ["base", "rag", "adapter:facts", "adapter:facts+rag"]
    assert [c.label for c in configs] == ["base", "base + RAG", "facts", "facts + RAG"]
    with pytest.raises(InvalidOption):
        EvalConfig.parse("gpt4")


def test_json_rows_roundtrip(tmp_path):
    item = qasets.QAItem("Q?", "A", source="x.md", page=None, split="test")
    row = item.as_row()
    assert json.loads(json.dumps(row)) == {
        "question": "Q?",
        "answer": "A",
        "source": "x.md",
        "answerable": True,
        "split": "test",
    }
    assert qasets.QAItem.from_row(row) == item


def test_questions_are_built_from_chinese_sentences_too():
    from webapp.adapters import question_builder

    text = (
        "低秩适配（LoRA）于2021年由微软的研究人员提出。它只训练少量参数。"
        "埃菲尔铁塔于1889年3月31日完工。大约35%的用户选择了它。"
    )
    made = [question_builder.question_from(s) for s in question_builder.sentences(text)]
    assert made == [
        ("低秩适配（LoRA）于哪一年由微软的研究人员提出？", "2021年"),
        None,  # its subject is in the sentence before
        ("埃菲尔铁塔于哪一天完工？", "1889年3月31日"),
        ("大约百分之多少的用户选择了它？", "35%"),
    ]
