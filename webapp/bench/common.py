"""What the benchmark modules share: the data they read, throwaway stores, the baseline
embedder, statistics and process helpers.

Data comes from ../shared/data (SciFact abstracts and queries, real PDFs) when present; when
it is absent, texts are generated (fixed seed) and each figure's note says so.
"""

from __future__ import annotations

import functools
import json
import random
import socket
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
SCIFACT = SHARED_DATA / "scifact"
PDFS = SHARED_DATA / "pdfs"
DEMO = Path(__file__).resolve().parents[2] / "assets" / "demo"
OWNER = "bench"


def median(values) -> float:
    return float(statistics.median(values))


def p95(values) -> float:
    ordered = sorted(values)
    return float(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))])


def have_scifact() -> bool:
    return (SCIFACT / "corpus.jsonl").is_file()


def corpus(n: int) -> tuple[list[tuple[str, str]], str]:
    """The first `n` SciFact abstracts as (name, "title\\ntext"), as eval-retrieval reads
    them; or `n` generated abstracts when the data is absent. Also says which it is."""
    if have_scifact():
        texts: list[tuple[str, str]] = []
        with (SCIFACT / "corpus.jsonl").open(encoding="utf-8") as f:
            for line in f:
                if len(texts) >= n:
                    break
                row = json.loads(line)
                title, text = str(row.get("title") or "").strip(), str(row["text"]).strip()
                texts.append((f"{row['_id']}.txt", f"{title}\n{text}".strip()))
        return texts, f"{len(texts)} SciFact abstracts"
    return [
        (f"generated-{i}.txt", generated_text(i)) for i in range(n)
    ], f"{n} generated abstracts (../shared/data absent)"


def queries(n: int) -> tuple[list[str], str]:
    """`n` SciFact claims (or generated questions when the data is absent), and which."""
    out = []
    path = SCIFACT / "queries.jsonl"
    if path.is_file():
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    out.append(str(json.loads(line)["text"]))
    what = f"{n} SciFact claims"
    if not out:
        rng = random.Random(7)
        out = [f"What is known about {' '.join(rng.sample(_vocabulary(), 3))}?" for _ in range(n)]
        what = f"{n} generated questions"
    return [out[i % len(out)] for i in range(n)], what


@functools.cache
def _vocabulary() -> list[str]:
    rng = random.Random(11)
    letters = "abcdefghiklmnoprstuvz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 10))) for _ in range(3000)]


def generated_text(seed: int, words: int = 220) -> str:
    """A made-up abstract: Zipf-like word frequencies, sentences of 12-25 words."""
    rng = random.Random(seed)
    vocab = _vocabulary()
    weights = [1 / (rank + 1) for rank in range(len(vocab))]
    chosen = rng.choices(vocab, weights=weights, k=words)
    sentences, i = [], 0
    while i < len(chosen):
        step = rng.randint(12, 25)
        sentences.append(" ".join(chosen[i : i + step]).capitalize() + ".")
        i += step
    return " ".join(sentences)


def pdf_files(quick: bool, scratch: Path) -> tuple[list[Path], str] | None:
    """The real PDFs (quick: the smallest one); without ../shared/data, two generated PDFs
    (reportlab, a test dependency); None when neither is possible."""
    real = sorted(PDFS.glob("*.pdf")) if PDFS.is_dir() else []
    if real:
        if quick:
            real = [min(real, key=lambda p: p.stat().st_size)]
        return real, ", ".join(p.name for p in real)
    try:
        from reportlab.lib.pagesizes import A4
        from reportlab.pdfgen import canvas
    except ImportError:
        return None
    files = []
    for n in range(1 if quick else 2):
        path = scratch / f"generated-{n}.pdf"
        c = canvas.Canvas(str(path), pagesize=A4)
        for page in range(10 if quick else 40):
            y = 800
            text = generated_text(1000 * n + page, 400)
            for start in range(0, len(text), 90):
                c.drawString(40, y, text[start : start + 90])
                y -= 14
            c.showPage()
        c.save()
        files.append(path)
    return files, f"{len(files)} generated PDFs (../shared/data absent)"


@contextmanager
def throwaway(services, **overrides) -> Iterator:
    """A Services on a temporary storage folder sharing `services`' loaded models."""
    with tempfile.TemporaryDirectory(prefix="webapp-bench-") as tmp:
        yield services.scratch(Path(tmp), **overrides)


def generator(services):
    """`services.generator` once its fast copy, built in the background, is ready (so the
    figures measure the path users get, not the fp32 fallback of the first seconds)."""
    generator = services.generator
    ready = getattr(generator, "fast_ready", None)  # a remote generator has none
    if ready is not None:
        ready.wait(120)
    return generator


def embedder_path(services) -> str:
    from webapp.models.resolve import resolve_embedder

    return resolve_embedder(services.settings.embed_model)


_BASELINE_EMBEDDERS: dict[str, object] = {}


def baseline_embedder(services):
    """The LlamaIndex starter's embedder: HuggingFaceEmbedding with its defaults (batch 10,
    normalized), on the same model files as ours; loaded once per process. It computes on
    the compute thread, as ours does: a script's main thread, the only one with an OpenMP
    pool (see webapp.models.compute)."""
    path = embedder_path(services)
    if path not in _BASELINE_EMBEDDERS:
        from webapp.models.embedder import huggingface_embedding

        _BASELINE_EMBEDDERS[path] = huggingface_embedding(model_name=path)
    return _BASELINE_EMBEDDERS[path]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def peak_rss_mb(pid: int) -> float | None:
    """The process's peak resident memory so far (VmHWM), in MB; None off Linux."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def reset_peak_rss(pid: int) -> bool:
    """Start the peak (VmHWM) over from the current RSS; False where Linux does not allow it."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
        return True
    except OSError:
        return False
