"""Hybrid search: fusion logic, the keyword index following the knowledge base, owners."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DEMO_DOCS
from tests.files import run_webapp
from tests.test_eval import write_beir
from webapp.retrieval.hybrid import keyword_match, rrf


def test_reciprocal_rank_fusion_by_hand():
    fused = rrf([["a", "b", "c"], ["c", "a"]], k=60)
    assert list(fused) == ["a", "c", "b"]  # a: 1/61 + 1/62 > c: 1/63 + 1/61 > b: 1/62
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)


def test_keyword_match_counts_the_questions_content_words():
    text = "The current chair of the board is Jonas Ekberg."
    assert keyword_match("Who is the chair of the board?", text) == 1.0
    assert keyword_match("Who chairs the cooperative?", text) == 0.0
    assert keyword_match("Who chairs the board?", text) == 0.5


@pytest.mark.slow
def test_questions_dense_search_misses_are_found_by_keywords(make_services):
    services = make_services()
    for path in DEMO_DOCS:
        services.knowledge.ingest("local", path, path.name)
    dense = services.chat.retrieve  # the chat's filtered search, in the configured mode
    services.settings.retrieval = "dense"
    assert dense("local", "Who is the chair of the board?", 4) == []
    services.settings.retrieval = "hybrid"
    found = dense("local", "Who is the chair of the board?", 4)
    assert found and found[0].file == "harbor-lights-handbook.md"
    why = found[0].retrieval
    assert why["keyword_rank"] == 1 and why["match"] == 1.0 and why["dense"] < 0.25
    # Nothing relevant is still nothing: no passage holds these words or this meaning.
    assert dense("local", "What is the capital of France?", 4) == []


@pytest.mark.slow
def test_the_keyword_index_follows_upload_replace_and_delete(make_services, tmp_path):
    services = make_services()
    owner = "local"
    doc = tmp_path / "notes.md"
    doc.write_text("The zebrafish tank is cleaned every Thursday by Ingrid Holm.")
    first = services.knowledge.ingest(owner, doc, doc.name)

    def keyword_files(query):
        retriever = services.retriever(owner, 4, mode="bm25")
        return [r.node.metadata["file"] for r in retriever.retrieve(query)]

    assert keyword_files("zebrafish tank") == ["notes.md"]
    doc.write_text("The axolotl pond is cleaned every Monday by Ingrid Holm.")
    services.knowledge.ingest(owner, doc, doc.name)  # a new version replaces the old one
    assert keyword_files("zebrafish tank") == []
    assert keyword_files("axolotl pond") == ["notes.md"]
    services.knowledge.delete(owner, services.knowledge.list_documents(owner)[0].id)
    assert keyword_files("axolotl pond") == []
    assert first.ok


@pytest.mark.slow
def test_hybrid_search_never_crosses_owners(make_services, tmp_path):
    services = make_services()
    secret = tmp_path / "secret.md"
    secret.write_text("Project Nightjar launches on the ninth of March from hangar seven.")
    services.knowledge.ingest("alice", secret, secret.name)
    for mode in ("hybrid", "bm25", "dense"):
        assert services.retriever("bob", 4, mode=mode).retrieve("Project Nightjar hangar") == []
        found = services.retriever("alice", 4, mode=mode).retrieve("Project Nightjar hangar")
        assert [r.node.metadata["file"] for r in found] == ["secret.md"]


@pytest.mark.slow
def test_eval_retrieval_measures_every_mode_on_one_index(tmp_path):
    folder = write_beir(tmp_path / "beir")
    done = run_webapp(
        "eval-retrieval", str(folder), "--mode", "all", "--json", storage=tmp_path / "s"
    )
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    assert [r["mode"] for r in results] == ["dense", "bm25", "hybrid"]
    for r in results:
        assert r["queries"] == 3 and r["recall@10"] == 1.0
    assert next(r for r in results if r["mode"] == "hybrid")["ndcg@10"] == pytest.approx(1.0)


def _notes(tmp_path, files: dict[str, str]) -> list:
    paths = []
    for name, text in files.items():
        path = tmp_path / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths


LAMPS = {
    "north.md": "# North pier\nThe north pier lamp is green and is lit at dusk by Ada Brenn.",
    "south.txt": "The south pier lamp is red and is lit at dusk by Tomas Veld.",
    "west.md": "# West pier\nThe west pier lamp is white and is lit at dusk by Ilse Marr.",
}


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["hybrid", "dense", "bm25"])
def test_a_question_can_be_kept_to_chosen_documents_or_file_types(make_services, tmp_path, mode):
    from webapp.retrieval.retriever import Scope

    services = make_services()
    docs = {
        p.name: services.knowledge.ingest("local", p, p.name).doc_id
        for p in _notes(tmp_path, LAMPS)
    }
    question = "Who lights the pier lamp at dusk?"

    def files(scope=None):
        found = services.retriever("local", 4, mode=mode, scope=scope).retrieve(question)
        return {r.node.metadata["file"] for r in found}

    assert files() == set(LAMPS)
    assert files(Scope(documents=(docs["south.txt"],))) == {"south.txt"}
    assert files(Scope(documents=(docs["north.md"], docs["west.md"]))) == {"north.md", "west.md"}
    assert files(Scope(kinds=("text",))) == {"south.txt"}
    assert files(Scope(documents=(docs["north.md"],), kinds=("text",))) == set()
    # Another owner's document id never widens the search to it.
    assert (
        services.retriever(
            "bob", 4, mode=mode, scope=Scope(documents=(docs["north.md"],))
        ).retrieve(question)
        == []
    )


@pytest.mark.slow
def test_the_chat_answers_from_the_chosen_documents_only(make_services, tmp_path):
    from webapp.chat.service import ChatOptions

    services = make_services()
    ids = {
        p.name: services.knowledge.ingest("local", p, p.name).doc_id
        for p in _notes(tmp_path, LAMPS)
    }
    options = ChatOptions(max_new_tokens=24, documents=(ids["west.md"],))
    answer = services.chat.ask("local", "Who lights the lamp at dusk?", [], options)
    assert {s.file for s in answer.sources} == {"west.md"}
    options = ChatOptions(max_new_tokens=24, file_types=("text",))
    answer = services.chat.ask("local", "What colour is the west pier lamp?", [], options)
    assert {s.file for s in answer.sources} <= {"south.txt"}
    nothing = ChatOptions(max_new_tokens=24, documents=(ids["west.md"],))
    answer = services.chat.ask("local", "What is the capital of France?", [], nothing)
    assert "documents you chose" in answer.answer and answer.sources == []


@pytest.mark.slow
def test_diversity_trades_a_near_duplicate_for_another_passage(make_services, tmp_path):
    texts = {
        f"copy{i}.md": f"The ferry to Skarvik leaves at 7:15 every morning from quay {i}."
        for i in range(3)
    }
    texts["other.md"] = "Sunday timetable: one boat for Skarvik, departing 9:40 from the pier."
    plain = make_services(tmp_path / "plain")
    varied = make_services(tmp_path / "varied", diversity=0.7)
    for services in (plain, varied):
        for path in _notes(tmp_path, texts):
            services.knowledge.ingest("local", path, path.name)
    question = "When does the ferry to Skarvik leave?"

    def top2(services):
        return [r.node.metadata["file"] for r in services.retriever("local", 2).retrieve(question)]

    assert all(f.startswith("copy") for f in top2(plain))  # two copies of the same fact
    assert "other.md" in top2(varied)


@pytest.mark.slow
def test_a_configured_cross_encoder_reorders_the_candidates(make_services, tmp_path):
    """A cross-encoder built from the bundled MiniLM (its scoring head untrained: what is
    tested is that its scores decide the order, not that they are good)."""
    import torch
    from sentence_transformers import CrossEncoder

    from webapp.models.resolve import resolve_embedder

    torch.manual_seed(0)
    folder = tmp_path / "cross-encoder"
    CrossEncoder(resolve_embedder("bundled:all-minilm-l6-v2"), num_labels=1).save(str(folder))
    services = make_services(reranker=str(folder))
    for path in _notes(tmp_path, LAMPS):
        services.knowledge.ingest("local", path, path.name)
    found = services.retriever("local", 3).retrieve("Who lights the pier lamp at dusk?")
    scores = [r.node.metadata["retrieval"]["rerank"] for r in found]
    assert len(found) == 3 and scores == sorted(scores, reverse=True)
    assert [r.node.metadata["retrieval"]["rank"] for r in found] == [1, 2, 3]


def test_eval_retrieval_reads_a_squad_file(tmp_path):
    """Each paragraph a document, its questions the queries: hit@5 is recall@5."""
    paragraphs = [
        (
            "The Velmora canal is 38 kilometres long and opened in 1842.",
            "How long is the Velmora canal?",
        ),
        (
            "Skarvik Light was lit for the first time in 1868 by keeper Ada Brenn.",
            "Who first lit Skarvik Light?",
        ),
        (
            "The Quillon harbour has 73 moorings for fishing boats.",
            "How many moorings does Quillon harbour have?",
        ),
    ]
    squad = {
        "data": [
            {
                "title": "Places",
                "paragraphs": [
                    {
                        "context": text,
                        "qas": [
                            {
                                "id": str(i),
                                "question": q,
                                "answers": [{"text": "x", "answer_start": 0}],
                            }
                        ],
                    }
                    for i, (text, q) in enumerate(paragraphs)
                ],
            }
        ]
    }
    path = tmp_path / "squad.json"
    path.write_text(json.dumps(squad), encoding="utf-8")
    done = run_webapp(
        "eval-retrieval", str(path), "--mode", "hybrid", "--json", storage=tmp_path / "s"
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["queries"] == 3 and result["documents"] == 3
    assert result["recall@1"] == 1.0 and result["recall@5"] == 1.0


@pytest.mark.slow
def test_large_collections_are_read_in_pages(make_services, tmp_path, monkeypatch):
    """Chroma's SQLite refuses one read of more than ~32k rows: every whole-collection read
    (keyword index, document list) goes page by page. Pages of 2 rows stand in for 5,000."""
    from webapp.knowledge import base

    monkeypatch.setattr(base, "PAGE", 2)
    services = make_services()
    words = ["zebrafish", "axolotl", "quokka", "narwhal", "pangolin"]
    for word in words:
        doc = tmp_path / f"{word}.md"
        doc.write_text(f"The {word} enclosure is cleaned every Thursday by Ingrid Holm.")
        services.knowledge.ingest("local", doc, doc.name)
    assert services.knowledge.count_chunks("local") > 2 * base.PAGE
    listed = {d.file for d in services.knowledge.list_documents("local")}
    assert listed == {f"{w}.md" for w in words}
    for word in words:
        retriever = services.retriever("local", 4, mode="bm25")
        assert [r.node.metadata["file"] for r in retriever.retrieve(f"{word} enclosure")][0] == (
            f"{word}.md"
        )
