"""`webapp bench [--quick] [--json]`: every figure with its same-run baseline and the ratio.

Output with --json: {"machine": str, "figures": [{"name", "unit", "ours", "baseline",
"ratio"}]}. Medians over repeats; --quick is a smoke run (small data, one repeat).
"""

from __future__ import annotations

import os
import platform
import statistics
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass
class Figure:
    name: str
    unit: str
    ours: float
    baseline: float | None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        return round(self.ours / self.baseline, 3) if self.baseline else None

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("note")
        data["ratio"] = self.ratio
        return data


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import torch

    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])  # MemTotal
        memory = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    return (
        f"{cpu}, {os.cpu_count()} cores{memory}, {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads"
    )


def lora_training(services, quick: bool) -> Figure:
    """On the compute thread: the plain PEFT loop then computes as a script's main thread
    would, with the only OpenMP pool (webapp.models.compute)."""
    from webapp.models import compute

    return compute.run(_lora_training, services, quick)


def _lora_training(services, quick: bool) -> Figure:
    from webapp.adapters.config import TrainConfig
    from webapp.bench import training

    data = training.rows(8 if quick else 48)
    config = TrainConfig(name="bench", rank=16, target="all-linear", epochs=1)
    base = services.base_model_path()
    repeats = 1 if quick else 3
    ours, plain = [], []
    with tempfile.TemporaryDirectory() as scratch:
        for i in range(repeats):
            named = config.model_copy(update={"name": f"bench{i}"})
            ours.append(training.ours(named, data, base, Path(scratch)))
            plain.append(training.plain_peft_loop(named, data, base))
    note = (
        f"LoRA r=16 all linear layers, {len(data.examples)} {data.name} rows, median of {repeats}"
    )
    return Figure(
        "lora_train_tokens_per_s",
        "tokens/s",
        round(statistics.median(ours), 1),
        round(statistics.median(plain), 1),
        note,
    )


def reader_figures(services, quick: bool) -> list[Figure]:
    """Reader + RAG against base + RAG on held-out XQuAD questions (webapp.bench.reader)."""
    from webapp.bench import reader

    result = reader.run(services, questions=20 if quick else 100)
    by_name = {c["name"]: c for c in result["configs"]}
    ours, base = by_name["adapter:reader+rag"], by_name["rag"]
    note = (
        f"{result['questions']} held-out XQuAD questions; reader trained {result['train_s']} s "
        f"({result['tokens_per_s']} tokens/s) on {result['rows']} generated rows; baseline: "
        "base + RAG. "
        + "; ".join(
            f"{c['label']}: contains {c['contains']}, F1 {c['f1']}" for c in result["configs"]
        )
    )
    return [
        Figure("reader_rag_contains", "share", ours["contains"], base["contains"], note),
        Figure("reader_rag_f1", "token F1", ours["f1"], base["f1"], note),
    ]


def load_figures(services, quick: bool) -> list[Figure]:
    """Chat latency with many users at once against one user alone (webapp.bench.load)."""
    from webapp.bench import load

    size = dict(chatters=4, uploaders=1, questions=1) if quick else {}
    r = load.run(services.settings.model_cache, **size)
    note = (
        f"{r['chatters']} users asking at once ({r['questions']} questions, "
        f"{r['uploaders']} more uploading: {r['uploads']} uploads); baseline: one user alone; "
        f"errors {r['errors']}, busy {r['busy']}, upload errors {r['upload_errors']}"
    )
    return [
        Figure(
            "chat_p50_s_under_load", "s", round(r["p50_s"], 2), round(r["alone_p50_s"], 2), note
        ),
        Figure(
            "chat_p95_s_under_load", "s", round(r["p95_s"], 2), round(r["alone_p95_s"], 2), note
        ),
        Figure("answers_to_wrong_user", "count", r["wrong_user"], None, note),
    ]


SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"


def retrieval_figures(services, quick: bool) -> list[Figure]:
    """Hybrid search against dense-only and BM25-only on the same index (eval-retrieval):
    SciFact nDCG@10 and median latency, XQuAD hit@5. Needs ../shared/data (skipped without)."""
    from webapp.evaluation import retrieval

    def open_scratch(folder: Path) -> retrieval.Scratch:
        scratch = services.scratch(folder)
        return retrieval.Scratch(scratch.knowledge, scratch.retrievers)

    figures = []
    sets = [("xquad", SHARED_DATA / "xquad_en" / "xquad.en.json")]
    if not quick:
        sets.insert(0, ("scifact", SHARED_DATA / "scifact"))
    for name, path in sets:
        if not path.exists():
            continue
        results = retrieval.evaluate_modes(
            open_scratch,
            services.settings.embed_model,
            path,
            top_k=10,
            modes=list(retrieval.MODES),
            limit=100 if quick else None,
        )
        by = {r["mode"]: r for r in results}
        metric = "ndcg@10" if name == "scifact" else "recall@5"
        best_single = max(by["dense"][metric], by["bm25"][metric])
        note = (
            f"{by['hybrid']['queries']} queries, {by['hybrid']['chunks']} chunks; baseline: the "
            f"better single mode (dense {by['dense'][metric]}, BM25 {by['bm25'][metric]})"
        )
        label = "ndcg10" if metric == "ndcg@10" else "hit5"
        figures.append(
            Figure(f"{name}_{label}_hybrid", metric, by["hybrid"][metric], best_single, note)
        )
        figures.append(
            Figure(
                f"{name}_retrieval_p50_ms_hybrid",
                "ms",
                by["hybrid"]["latency_ms_p50"],
                by["dense"]["latency_ms_p50"],
                "median query time, top 30 chunks; baseline: dense only",
            )
        )
        for mode in ("dense", "bm25"):  # the single modes themselves, for the README table
            r = by[mode]
            figures.append(Figure(f"{name}_{label}_{mode}", metric, r[metric], None, mode))
            figures.append(
                Figure(f"{name}_retrieval_p50_ms_{mode}", "ms", r["latency_ms_p50"], None, mode)
            )
    return figures


def answer_figures(services, quick: bool, limit: int | None = None) -> list[Figure]:
    """xquad_answer_hit5, xquad_citation_correct: every XQuAD question (or `limit` of them)
    through the chat (webapp.bench.answers)."""
    from webapp.bench import answers

    return answers.figures(services, quick, limit)


def embedding(services, quick: bool) -> list[Figure]:
    """embed_chunks_per_s, query_embed_ms (webapp.bench.embedding)."""
    from webapp.bench import embedding

    return embedding.figures(services, quick)


def ingestion(services, quick: bool) -> list[Figure]:
    """ingest_chunks_per_s, ingest_docs_per_s, pdf_pages_per_s (webapp.bench.ingest)."""
    from webapp.bench import ingest

    return ingest.figures(services, quick)


def retrieval_latency(services, quick: bool) -> list[Figure]:
    """retrieval_p50/p95_ms_5k/100k (webapp.bench.retrieval_latency)."""
    from webapp.bench import retrieval_latency

    return retrieval_latency.figures(services, quick)


def generation(services, quick: bool) -> list[Figure]:
    """prefill_tokens_per_s, decode_tokens_per_s(_undrafted), ttft_s, answer_decode_tokens_per_s
    (webapp.bench.generation)."""
    from webapp.bench import generation

    return generation.figures(services, quick)


def quality(services, quick: bool) -> list[Figure]:
    """xquad_exact_match_fast, xquad_f1_fast against fp32 (webapp.bench.quality)."""
    from webapp.bench import quality

    return quality.figures(services, quick)


def serving(services, quick: bool) -> list[Figure]:
    """warm_start_s, first_start_s (full run), peak_rss_serving_mb, peak_rss_ingest_mb
    (webapp.bench.serving)."""
    from webapp.bench import serving

    return serving.figures(services, quick)


# Each returns a Figure or a list of them.
BENCHMARKS = [embedding, ingestion, retrieval_latency, generation, quality, serving, lora_training]
# Slow ones, each behind its own flag: --reader, --load, --retrieval.
OPTIONAL = {
    "reader": reader_figures,
    "load": load_figures,
    "retrieval": retrieval_figures,
    "answers": answer_figures,
}


def run(
    services,
    quick: bool = False,
    extra: tuple[str, ...] = (),
    only: tuple[str, ...] = (),
    limit: int | None = None,
) -> dict:
    """`limit`: the answers benchmark asks only that many questions."""
    import sys
    import time

    from webapp.errors import InvalidOption

    chosen = BENCHMARKS + [OPTIONAL[name] for name in extra]
    if only:
        known = {**{b.__name__: b for b in BENCHMARKS}, **OPTIONAL}
        unknown = sorted(set(only) - set(known))
        if unknown:
            raise InvalidOption(
                f"Unknown benchmark {', '.join(unknown)}; known: {', '.join(known)}."
            )
        chosen = [known[name] for name in only]
    if limit is not None and (limit < 1 or answer_figures not in chosen):
        raise InvalidOption("--limit takes a number of questions (1 or more) for --answers.")
    load = _load_average()  # other processes on the cores skew every figure: say how busy
    figures = []
    for bench in chosen:
        start = time.perf_counter()
        args = (services, quick, limit) if bench is answer_figures else (services, quick)
        got = _own_thread(bench, *args)
        figures += got if isinstance(got, list) else [got]
        print(f"  {bench.__name__}: {time.perf_counter() - start:.0f} s", file=sys.stderr)
    described = machine()
    if load is not None:
        described += f"; load average {load:.1f} at start, {_load_average():.1f} at end"
    return {"machine": described, "figures": figures}


def _own_thread(bench, *args):
    """Each section on a thread of its own: an OpenMP pool that the section's own torch work
    starts ends with it instead of slowing every later section (webapp.models.compute)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="bench-section") as section:
        return section.submit(bench, *args).result()


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


def table(result: dict) -> str:
    lines = [
        f"machine: {result['machine']}",
        "",
        f"{'figure':<28} {'ours':>10} {'baseline':>10} {'ratio':>7}  unit / what",
    ]
    for f in result["figures"]:
        base = f"{f.baseline:>10}" if f.baseline is not None else f"{'-':>10}"
        ratio = f"{f.ratio:>7}" if f.ratio is not None else f"{'-':>7}"
        ours = f"{f.ours:>10}" if f.ours is not None else f"{'-':>10}"  # e.g. nothing cited
        lines.append(f"{f.name:<28} {ours} {base} {ratio}  {f.unit}; {f.note}")
    return "\n".join(lines)
