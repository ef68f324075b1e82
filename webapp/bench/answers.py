"""The answer side of retrieval on XQuAD (../shared/data), in English and in Chinese (XQuAD-zh:
the same paragraphs and questions): ingest the 240 paragraphs, ask every one of the 1,190
human-written questions through the chat (base model + hybrid RAG, top 5), as a user would.
The generator is the configured one (WEBAPP_LLM_MODEL), named in each figure's note. Figures: hit@5 of the gold paragraph among the sources the answer was given,
citation correctness (the passage an answer cites holds the gold answer), and the answers'
contains / F1 with the bundled 135M model. `--quick`: 12 questions; `--limit N`: N questions
spread over the paragraphs (the same sample every run, to compare settings on).

It runs under the current settings: WEBAPP_CHUNK_SIZE, WEBAPP_CHUNK_OVERLAP,
WEBAPP_CONTEXT_WINDOW, WEBAPP_RETRIEVAL… apply to its throwaway knowledge base, and the
figures' note names the retrieval settings used, e.g.
`WEBAPP_CHUNK_SIZE=96 WEBAPP_CONTEXT_WINDOW=200 webapp bench --only answers --limit 300`.
"""

from __future__ import annotations

import sys
from pathlib import Path

from webapp.bench import common
from webapp.bench.runner import Figure
from webapp.bench.training import XQUAD

TOP_K = 5
XQUAD_ZH = XQUAD.parent.parent / "xquad_zh" / "xquad.zh.json"
DATASETS = {"xquad": XQUAD, "xquad_zh": XQUAD_ZH}


def figures(services, quick: bool, limit: int | None = None) -> list[Figure]:
    return [
        figure
        for name, path in DATASETS.items()
        if path.is_file()
        for figure in _figures(services, name, path, quick, limit)
    ]


def _figures(services, name: str, path: Path, quick: bool, limit: int | None) -> list[Figure]:
    from webapp.evaluation import runner, squad

    paragraphs = squad.load(path)
    items = [q for p in paragraphs for q in p.questions]
    if quick or limit:
        items = squad.sample_questions(paragraphs, limit or 12, seed=0)
    configs = runner.EvalConfig.parse_list("rag")

    def progress(fraction: float, what: str) -> None:
        print(f"\r  {name} {fraction:4.0%}  {what:<40}", end="", file=sys.stderr, flush=True)

    with common.throwaway(services) as scratch:
        folder = Path(scratch.settings.storage_dir) / "xquad"
        for path in squad.write_documents(paragraphs, folder):
            scratch.knowledge.ingest(common.OWNER, path, path.name)
        run = runner.run(scratch.chat, common.OWNER, items, configs, top_k=TOP_K, progress=progress)
    print(file=sys.stderr)
    rag = run["configs"][0]
    s = scratch.settings
    window = f"{s.context_window}-token window" if s.context_window else "no window"
    language = "Chinese " if name == "xquad_zh" else ""
    note = (
        f"{len(items)} {language}XQuAD questions through the chat, {s.llm_model} + {s.retrieval} RAG, "
        f"top {TOP_K}, chunks {s.chunk_size}/{s.chunk_overlap} tokens, {window}; "
        f"{run['seconds']:.0f} s"
    )
    return [
        Figure(f"{name}_answer_hit5", "share", rag["hit_at_k"], None, note),
        Figure(f"{name}_citation_correct", "share", rag["citation_correct"], None, note),
        Figure(f"{name}_answer_contains", "share", rag["contains"], None, note),
        Figure(f"{name}_answer_f1", "share", rag["f1"], None, note),
        Figure(f"{name}_answer_exact_match", "share", rag["exact_match"], None, note),
        Figure(f"{name}_answer_latency_s", "s", rag["latency_s"], None, note),
    ]
