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
