"""The answer side of retrieval on XQuAD (../shared/data): ingest the 240 paragraphs, ask every
one of the 1,190 human-written questions through the chat (base model + hybrid RAG, top 5), as
a user would. Figures: hit@5 of the gold paragraph among the sources the answer was given,
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


def figures(services, quick: bool, limit: int | None = None) -> list[Figure]:
    from webapp.evaluation import runner, squad

    if not XQUAD.is_file():
        return []
    paragraphs = squad.load(XQUAD)
    items = [q for p in paragraphs for q in p.questions]
    if quick or limit:
        items = squad.sample_questions(paragraphs, limit or 12, seed=0)
    configs = runner.EvalConfig.parse_list("rag")

    def progress(fraction: float, what: str) -> None:
        print(f"\r  answers {fraction:4.0%}  {what:<40}", end="", file=sys.stderr, flush=True)

    with common.throwaway(services) as scratch:
        folder = Path(scratch.settings.storage_dir) / "xquad"
        for path in squad.write_documents(paragraphs, folder):
            scratch.knowledge.ingest(common.OWNER, path, path.name)
        run = runner.run(scratch.chat, common.OWNER, items, configs, top_k=TOP_K, progress=progress)
    print(file=sys.stderr)
    rag = run["configs"][0]
    s = scratch.settings
    window = f"{s.context_window}-token window" if s.context_window else "no window"
    note = (
        f"{len(items)} XQuAD questions through the chat, base model + {s.retrieval} RAG, "
        f"top {TOP_K}, chunks {s.chunk_size}/{s.chunk_overlap} tokens, {window}; "
        f"{run['seconds']:.0f} s"
    )
    return [
        Figure("xquad_answer_hit5", "share", rag["hit_at_k"], None, note),
        Figure("xquad_citation_correct", "share", rag["citation_correct"], None, note),
        Figure("xquad_answer_contains", "share", rag["contains"], None, note),
        Figure("xquad_answer_f1", "share", rag["f1"], None, note),
    ]
