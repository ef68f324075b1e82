"""Small-to-big retrieval (WEBAPP_CONTEXT_WINDOW): a matched chunk handed over with the text
around it, from the same document of the same owner, without repeating the chunks' overlap,
neighbouring hits joined, and the whole still within the prompt budget.

Fast: real Chroma in a temp dir and the shipped retrieval, with the word-concept stand-in
embedder and words as tokens (tests/concepts). Only the budget test loads the generator."""

from __future__ import annotations

import re

import pytest

from tests.concepts import Search
from webapp.chat import prompts
from webapp.chat.service import Answer, ChatService
from webapp.knowledge.documents import Chunk
from webapp.retrieval import window
from webapp.retrieval.retriever import EVERYTHING, Source
from webapp.ui.render import passage_markdown


def sentences(word: str, n: int, markers: dict[int, str]) -> str:
    """n five-word sentences; `markers` replaces some of them (by position)."""
    return " ".join(markers.get(i, f"{word} {i} is plain filler.") for i in range(n))


# Chunks of 40 words overlapping by 10: chunk k holds sentences 6k .. 6k+7 (0 .. 16 here).
DOC = sentences(
    "Sentence",
    100,
    {
        2: "An AL1001 note is here.",  # chunk 0
        48: "A ZB4420 sign hangs here.",  # chunks 7 and 8
        51: "The QX7731 marker sits here.",  # chunk 8
        99: "An OM9009 note is here.",  # chunk 16, the last
    },
)
OTHER = sentences("Other", 60, {0: "Nothing but a YK5151 tag."})
BOBS = sentences("Bob", 60, {})


@pytest.fixture
def kb(settings, tmp_path):
    """Alice's two documents and Bob's one in one Chroma store; `chat(window)` is the chat
    service over them with that context window."""
    base = settings.model_copy(update={"chunk_size": 40, "chunk_overlap": 10})
    search = Search(settings.storage_dir, base)
    search.ids = {
        **search.add("alice", tmp_path / "alice", {"doc.txt": DOC, "other.txt": OTHER}),
        **search.add("bob", tmp_path / "bob", {"bob.txt": BOBS}),
    }

    def chat(tokens: int) -> ChatService:
        settings = base.model_copy(update={"context_window": tokens})

        def keywords(owner, top_k, scope):  # which chunk a question finds, by construction
            return search.retriever(owner, top_k, "bm25", scope or EVERYTHING)

        return ChatService(None, search.knowledge, keywords, settings, None)

    search.chat = chat
    return search


def found(kb, question: str, top_k: int = 1, owner: str = "alice") -> list[Source]:
    return kb.chat(0).retrieve(owner, question, top_k)


def words(text: str) -> int:
    return len(text.split())


def test_a_source_widens_to_about_the_window_centred_on_its_chunk(kb):
    [hit] = found(kb, "Where is the QX7731 marker?")
    assert hit.chunk_index == 8
    assert words(hit.text) == 40
    [wide] = kb.chat(120).widen("alice", [hit])
    assert 110 <= words(wide.text) <= 125
    [(start, end)] = wide.spans
    assert wide.text[start:end] == hit.text  # the matched chunk, marked
    before, after = words(wide.text[:start]), words(wide.text[end:])
    assert abs(before - after) <= 6
    # Citations and "why it was picked" stay the matched chunk's.
    assert (wide.score, wide.retrieval, wide.start, wide.end) == (
        hit.score,
        hit.retrieval,
        hit.start,
        hit.end,
    )


def test_the_overlap_between_chunks_is_not_repeated(kb):
    [hit] = found(kb, "Where is the QX7731 marker?")
    [wide] = kb.chat(200).widen("alice", [hit])
    assert wide.text in DOC  # one stretch of the document, nothing twice
    assert wide.text.count("Sentence 54 ") == 1  # in chunks 8 and 9 both


def test_a_window_at_the_start_of_a_document_widens_forward(kb):
    [hit] = found(kb, "Where is the AL1001 note?")
    assert hit.chunk_index == 0
    [wide] = kb.chat(120).widen("alice", [hit])
    assert wide.text.startswith("Sentence 0 ")
    assert wide.spans[0][0] == 0
    assert 110 <= words(wide.text) <= 125
    assert wide.text in DOC


def test_two_neighbouring_hits_become_one_source(kb):
    hits = found(kb, "Where does the ZB4420 sign hang?", top_k=2)
    assert sorted(h.chunk_index for h in hits) == [7, 8]  # sentence 48 is in both
    [joined] = kb.chat(60).widen("alice", hits)
    assert joined.text in DOC
    assert joined.text.count("ZB4420") == 1
    assert joined.chunk_index == hits[0].chunk_index  # the better ranked one leads
    assert [joined.text[s:e] for s, e in joined.spans] == [h.text for h in hits]


def test_hits_far_apart_stay_two_sources_that_share_no_text(kb):
    hits = found(kb, "AL1001 QX7731", top_k=2)
    assert sorted(h.chunk_index for h in hits) == [0, 8]
    wide = kb.chat(60).widen("alice", hits)
    assert len(wide) == 2
    assert all(w.text in DOC for w in wide)
    # Windows of 200 would overlap (sentences 0-39 and 32-71): each keeps its own side.
    wide = kb.chat(200).widen("alice", hits)
    assert len(wide) == 2
    assert all(w.text in DOC for w in wide)
    first, second = ({int(n) for n in re.findall(r"Sentence (\d+) ", w.text)} for w in wide)
    assert not first & second
    assert max(first | second) - min(first | second) > 60


def test_a_window_never_crosses_into_another_document_or_owner(kb):
    """Other documents hold chunks with the same indexes: only the hit's own are read."""
    [hit] = found(kb, "Where is the OM9009 note?")
    assert hit.chunk_index == 16
    assert hit.doc_id == kb.ids["doc.txt"]
    [wide] = kb.chat(400).widen("alice", [hit])
    assert wide.text in DOC
    assert "Other" not in wide.text
    assert "Bob" not in wide.text
    [first] = found(kb, "Where is the YK5151 tag?")
    [wide] = kb.chat(400).widen("alice", [first])
    assert wide.text in OTHER
    assert "Sentence" not in wide.text
    assert kb.knowledge.neighbours("alice", window.wanted([hit, first], 20))
    assert kb.knowledge.neighbours("bob", window.wanted([hit, first], 20)) == []
    [bobs] = found(kb, "Bob 30 is plain filler", owner="bob")
    [wide] = kb.chat(400).widen("bob", [bobs])
    assert wide.text in BOBS


def test_neighbours_are_read_in_one_request(kb, monkeypatch):
    hits = found(kb, "AL1001 OM9009", top_k=2)
    collection = kb.knowledge.collection("alice")
    calls = []
    real = type(collection).get
    monkeypatch.setattr(
        type(collection), "get", lambda self, *a, **k: calls.append(k) or real(self, *a, **k)
    )
    kb.chat(200).widen("alice", hits)
    assert len(calls) == 1


def test_documents_stored_before_chunk_keys_widen_the_same(kb, monkeypatch):
    hits = found(kb, "AL1001 QX7731", top_k=2)
    expected = kb.chat(120).widen("alice", hits)
    collection = kb.knowledge.collection("alice")
    stored = collection.get(where={"file_id": kb.ids["doc.txt"]}, include=["metadatas"])
    collection.update(ids=stored["ids"], metadatas=[{"chunk_key": None} for _ in stored["ids"]])
    assert not collection.get(where={"chunk_key": {"$in": ["x"]}}, include=[])["ids"]
    left = collection.get(ids=stored["ids"][:1], include=["metadatas"])["metadatas"][0]
    assert "chunk_key" not in left
    assert "chunk_index" in left
    calls = []
    real = type(collection).get
    monkeypatch.setattr(
        type(collection), "get", lambda self, *a, **k: calls.append(k) or real(self, *a, **k)
    )
    assert kb.chat(120).widen("alice", hits) == expected
    assert len(calls) == 2  # by chunk key (nothing), then by file id and chunk index


def test_window_zero_keeps_the_chunk_alone(kb):
    hits = found(kb, "Where does the ZB4420 sign hang?", top_k=2)
    assert kb.chat(0).widen("alice", hits) is hits
    assert all(h.spans is None and words(h.text) == 40 for h in hits)
    data = Answer("q", sources=hits, done=True).as_dict()["sources"][0]
    assert data["text"] == hits[0].text
    assert data["matched_spans"] == [[0, len(hits[0].text)]]


def test_the_api_gives_why_each_source_was_picked_and_its_matched_span(kb):
    [hit] = found(kb, "Where is the QX7731 marker?")
    [wide] = kb.chat(120).widen("alice", [hit])
    data = Answer("q", sources=[wide], done=True).as_dict()["sources"][0]
    r = hit.retrieval
    assert data == {
        "file": "doc.txt",
        "page": None,
        "score": hit.score,
        "text": wide.text,
        "dense_score": r["dense"],
        "dense_rank": r["dense_rank"],
        "bm25_score": r["keyword"],
        "bm25_rank": r["keyword_rank"],
        "keyword_match": r["match"],
        "fused_rank": r["fused_rank"],
        "rerank_score": None,
        "matched_spans": [list(wide.spans[0])],
        "evidence": [],
    }
    assert data["bm25_rank"] == 1
    assert data["bm25_score"] > 0


def test_the_matched_chunk_is_bold_in_the_shown_passage(kb):
    [hit] = found(kb, "Where is the QX7731 marker?")
    [wide] = kb.chat(120).widen("alice", [hit])
    shown = passage_markdown(wide)
    [bold] = re.findall(r"\*\*(.+?)\*\*", shown)
    assert "QX7731" in bold
    assert bold.startswith("A ZB4420")
    assert "Sentence 47" not in bold
    assert "Sentence 47" in shown  # the text around it, not bold
    assert "**" not in passage_markdown(hit)  # no window: as before


def test_chunks_without_offsets_are_joined_by_their_repeated_text():
    text = "one two three four five six seven eight nine ten eleven twelve"
    a, b = text[:39], text[28:]  # "one … six seven eight" / "seven eight nine … twelve"
    chunks = [
        Chunk(0, a, None, None, None, None, "d", "p"),
        Chunk(1, b, None, None, None, None, "d", "p"),
    ]
    strip = window.join(chunks)[("d", 0)]
    assert strip.text == text
    assert strip.at[1] == (28, len(text))
    # A new page repeats nothing: the chunks are set apart.
    chunks[1].part = "q"
    assert window.join(chunks)[("d", 1)].text == f"{a}\n\n{b}"


@pytest.mark.slow
def test_widened_sources_still_fit_the_prompt_budget(kb, generator):
    hits = found(kb, "AL1001 OM9009 QX7731", top_k=3)
    assert sorted(h.chunk_index for h in hits) == [0, 8, 16]
    wide = kb.chat(150).widen("alice", hits)
    assert len(wide) == 3
    assert all(words(w.text) >= 140 for w in wide)
    question = "Where is the QX7731 marker?"
    budget = 500
    messages, used = prompts.rag_messages(question, wide, generator, budget)
    assert generator.prompt_tokens(messages) <= budget
    assert question in messages[-1]["content"]
    assert len(used) == 3  # every source kept, narrowed around its chunk
    for hit, source in zip(hits, used, strict=True):
        assert [source.text[s:e] for s, e in source.spans] == [hit.text]
        assert source.text in DOC
        assert words(hit.text) < words(source.text) < 120
        assert " ".join(source.text.split()) in messages[-1]["content"]  # what the model read
    sizes = [generator.count_tokens(s.text) for s in used]
    assert max(sizes) - min(sizes) < 40  # narrowed evenly, not the first kept whole
