"""The retriever tuned to your documents (`webapp train-retriever`, retrieval.tuning): hard
negatives from BM25, a real training run of the bundled embedder on a tiny BEIR folder, the
tuned folder used by `eval-retrieval --embedder`, plain messages, and no half-saved folder."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from tests import files
from tests.conftest import OWNER, SHARED_DATA
from webapp.errors import Cancelled, InvalidOption
from webapp.retrieval import pairs, tuning

webapp = files.run_webapp
SCIFACT = SHARED_DATA / "scifact"

# Made-up facts, so the bundled embedder has never seen them.
PASSAGES = {
    "p1": ("Quenby", "The harbour of Quenby is guarded by a bronze walrus named Osgood."),
    "p2": ("Velmora", "Velmora glacier retreated 300 metres after the Orsk dam was built."),
    "p3": ("Tarrow", "Tarrow beetles glow green when the night air is below four degrees."),
    "p4": ("Ilsen", "The Ilsen choir sings only on the first Tuesday after a lunar eclipse."),
    "p5": ("Brask", "Brask bread is baked with ash from burnt juniper instead of salt."),
    "p6": ("Mordel", "Mordel mine closed in 1911 when its copper vein flooded with brine."),
    "p7": ("Quenby", "Quenby fishermen paint their boats yellow to honour the walrus Osgood."),
    "p8": ("Velmora", "The Orsk dam near Velmora produces electricity for three valleys."),
    "p9": ("Tarrow", "Tarrow is a marsh village where beetles are kept as night lights."),
    "p10": ("Ilsen", "Ilsen astronomers record every lunar eclipse on copper plates."),
    "p11": ("Brask", "Juniper grows wild on the hills above Brask and is burnt in winter."),
    "p12": ("Mordel", "Brine springs near Mordel were used to cure fish before the mine."),
}
TRAIN = {
    "t1": ("what guards the harbour of Quenby", "p1"),
    "t2": ("how far did Velmora glacier retreat", "p2"),
    "t3": ("when do Tarrow beetles glow", "p3"),
    "t4": ("when does the Ilsen choir sing", "p4"),
    "t5": ("what is Brask bread baked with", "p5"),
    "t6": ("why did Mordel mine close", "p6"),
    "t7": ("why are Quenby boats yellow", "p7"),
    "t8": ("what does the Orsk dam power", "p8"),
}
TEST = {"h1": ("which statue protects Quenby's port", "p1")}


def write_folder(folder: Path) -> Path:
    queries = {q: text for q, (text, _) in (TRAIN | TEST).items()}
    files.write_beir(folder, PASSAGES, queries, {q: p for q, (_, p) in TEST.items()})
    lines = "".join(f"{q}\t{p}\t1\n" for q, (_, p) in TRAIN.items())
    (folder / "qrels" / "train.tsv").write_text("query-id\tcorpus-id\tscore\n" + lines)
    return folder


def corpus_of(passages=PASSAGES) -> dict[str, str]:
    return {k: f"{title}\n{text}" for k, (title, text) in passages.items()}


def test_hard_negatives_are_the_best_bm25_passage_not_judged_relevant():
    corpus = corpus_of()
    queries = {q: text for q, (text, _) in TRAIN.items()}
    rows = pairs.triples(corpus, queries, {"t1": {"p1": 1}, "t2": {"p2": 1}})
    assert [r.positive for r in rows] == [corpus["p1"], corpus["p2"]]
    # "harbour of Quenby": p7 (Quenby, Osgood) shares the words; p2's best rival is p8.
    assert rows[0].negative == corpus["p7"]
    assert rows[1].negative == corpus["p8"]
    # Judged relevant, a passage is never a negative, however well BM25 ranks it.
    both = pairs.triples(corpus, queries, {"t1": {"p1": 1, "p7": 1}})
    assert {r.negative for r in both}.isdisjoint({corpus["p1"], corpus["p7"]})
    assert pairs.fingerprint(rows) == pairs.fingerprint(list(rows))
    sample = pairs.triples(corpus, queries, {q: {p: 1} for q, (_, p) in TRAIN.items()}, 3)
    assert len(sample) == 3


def test_plain_messages(tmp_path):
    folder = write_folder(tmp_path / "beir")
    storage = tmp_path / "s"
    bad = webapp("train-retriever", str(folder), "--name", "no good", storage=storage)
    assert bad.returncode == 2
    assert "Retriever names use 1-48 letters" in bad.stderr
    missing = webapp("train-retriever", str(tmp_path / "nowhere"), "--name", "r", storage=storage)
    assert missing.returncode == 2
    assert "Not a BEIR folder" in missing.stderr
    dev = webapp("train-retriever", str(folder), "--split", "dev", "--name", "r", storage=storage)
    assert dev.returncode == 2
    assert "no 'dev' judgements (qrels/dev.tsv)" in dev.stderr
    batch = webapp("train-retriever", str(folder), "--name", "r", "--batch", "1", storage=storage)
    assert batch.returncode == 2
    assert "batch_size" in batch.stderr
    unknown = webapp("eval-retrieval", str(folder), "--embedder", "nope", storage=storage)
    assert unknown.returncode == 2
    assert "No tuned retriever 'nope'" in unknown.stderr
    assert "Traceback" not in bad.stderr + missing.stderr + dev.stderr + unknown.stderr


def similarity_margin(model, query: str, positive: str, negative: str) -> float:
    q, p, n = model.encode([query, positive, negative], normalize_embeddings=True)
    return float(q @ p - q @ n)


@pytest.mark.slow
def test_train_then_evaluate_with_the_tuned_embedder(tmp_path):
    from sentence_transformers import SentenceTransformer

    from webapp.models.resolve import resolve_embedder

    folder, storage = write_folder(tmp_path / "beir"), tmp_path / "s"
    args = ("--name", "quenby", "--epochs", "4", "--batch", "8", "--lr", "1e-4")
    trained = webapp("train-retriever", str(folder), *args, storage=storage)
    assert trained.returncode == 0, trained.stderr
    assert "saved retriever 'quenby': 8 pairs" in trained.stdout
    store = tuning.TunedEmbedders(storage)
    out = store.resolve(OWNER, "quenby")
    assert (out / "model.safetensors").is_file()
    assert not list(out.rglob("*.bin"))
    assert not (out / "checkpoints").exists()
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["data"]["source"] == "beir"
    assert metadata["data"]["split"] == "train"
    assert metadata["data"]["pairs"] == 8
    assert len(metadata["data"]["sha256"]) == 64
    assert metadata["hyperparameters"]["epochs"] == 4
    assert metadata["hyperparameters"]["loss"] == "MultipleNegativesRankingLoss"
    assert metadata["pairs_per_s"] > 0
    assert metadata["train_s"] > 0

    # The tuned embedder tells a held-out paraphrase's passage from its BM25 rival better.
    corpus = corpus_of()
    held_out = (TEST["h1"][0], corpus["p1"], corpus["p7"])
    base = SentenceTransformer(resolve_embedder("bundled:all-minilm-l6-v2"), device="cpu")
    tuned = SentenceTransformer(str(out), device="cpu")
    assert similarity_margin(tuned, *held_out) > similarity_margin(base, *held_out)

    scored = webapp(
        "eval-retrieval", str(folder), "--mode", "dense", "--embedder", "quenby", storage=storage
    )
    assert scored.returncode == 0, scored.stderr
    assert f"embedder: {out}" in scored.stdout
    measured = json.loads((out / "metadata.json").read_text())["measured"]
    assert set(measured["beir/test"]["dense"]) >= {"ndcg@10", "recall@10"}
    again = webapp("train-retriever", str(folder), "--name", "quenby", storage=storage)
    assert again.returncode == 2
    assert "already exists" in again.stderr


@pytest.mark.slow
def test_an_interrupted_training_or_save_leaves_no_usable_folder(tmp_path):
    from webapp.models.resolve import resolve_embedder

    base = resolve_embedder("bundled:all-minilm-l6-v2")
    corpus, queries = corpus_of(), {q: text for q, (text, _) in TRAIN.items()}
    rows = pairs.triples(corpus, queries, {q: {p: 1} for q, (_, p) in TRAIN.items()})
    store = tuning.TunedEmbedders(tmp_path)
    out = store.folder(OWNER, "half")
    config = tuning.TuneConfig(batch_size=4)

    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        tuning.tune_embedder(rows, base, out, config, cancel=cancel)
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    # The model saved, then the metadata fails to write: nothing appears under the name.
    with pytest.raises(TypeError):
        tuning.tune_embedder(rows, base, out, config, recipe={"source": object()})
    assert list(out.parent.iterdir()) == []
    assert not store.exists(OWNER, "half")
    with pytest.raises(InvalidOption, match="No tuned retriever 'half'"):
        store.resolve(OWNER, "half")


def test_a_leftover_temporary_folder_is_never_listed_and_is_removed(tmp_path):
    from webapp import storage_lock

    store = tuning.TunedEmbedders(tmp_path)
    leftover = store.folder(OWNER, "x").parent / ".x.1234abcd.tmp"
    leftover.mkdir(parents=True)
    (leftover / "modules.json").write_text("[]")
    assert store.list(OWNER) == []
    assert not store.exists(OWNER, "x")
    with storage_lock.hold(tmp_path, "test"):
        tuning.TunedEmbedders(tmp_path)
    assert not leftover.exists()


@pytest.mark.skipif(not SCIFACT.exists(), reason="../shared/data is not here")
def test_scifact_train_judgements_give_a_hard_negative_for_each_pair():
    from webapp.evaluation.retrieval import load_beir

    corpus, queries, qrels = load_beir(SCIFACT, "train")
    rows = pairs.triples(corpus, queries, qrels, max_pairs=100)
    assert len(rows) == 100
    assert all(r.negative != r.positive and r.query in queries.values() for r in rows)


@pytest.mark.slow
def test_train_a_retriever_from_questions_built_from_your_documents(tmp_path):
    from tests.conftest import DEMO_DOCS

    storage = tmp_path / "s"
    assert webapp("ingest", *map(str, DEMO_DOCS), storage=storage).returncode == 0
    args = ("--from-docs", "--name", "demo", "--per-doc", "5", "--batch", "4")
    trained = webapp("train-retriever", *args, storage=storage)
    assert trained.returncode == 0, trained.stderr
    assert f"questions from {len(DEMO_DOCS)} of your documents" in trained.stdout
    metadata = json.loads(
        (tuning.TunedEmbedders(storage).resolve(OWNER, "demo") / "metadata.json").read_text()
    )
    assert metadata["data"]["source"] == "documents"
    assert 2 <= metadata["data"]["pairs"] == metadata["data"]["questions"]
