"""Answer quality of the fast generator against fp32: the same XQuAD questions, same index.

The 240 XQuAD paragraphs (../shared/data) go into a throwaway knowledge base; a sample of the
human-written questions is asked through the chat (base model + RAG) twice: with the fast
copy (webapp.models.quantize) and with the fp32 model. Figures: exact match and token F1 (in
points, 0-100) of each; the target is the fast path within 2 points of fp32.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

from webapp.bench import common
from webapp.bench.runner import Figure
from webapp.bench.training import XQUAD


@contextmanager
def fp32_only(generator):
    """The generator answers from its fp32 model while active."""
    fast, generator.fast_model = generator.fast_model, None
    try:
        yield
    finally:
        generator.fast_model = fast


def figures(services, quick: bool) -> list[Figure]:
    from webapp.evaluation import runner, squad

    generator = common.generator(services)
    if not XQUAD.is_file() or getattr(generator, "fast_model", None) is None:
        return []  # no data, or nothing to compare (remote or fp32-only generator)
    paragraphs = squad.load(XQUAD)
    items = squad.sample_questions(paragraphs, 12 if quick else 120, seed=0)
    configs = runner.EvalConfig.parse_list("rag")
    with common.throwaway(services) as scratch:
        folder = Path(scratch.settings.storage_dir) / "xquad"
        for path in squad.write_documents(paragraphs, folder):
            scratch.knowledge.ingest(common.OWNER, path, path.name)
        fast = runner.run(scratch.chat, common.OWNER, items, configs)["configs"][0]
        with fp32_only(generator):
            plain = runner.run(scratch.chat, common.OWNER, items, configs)["configs"][0]
    note = (
        f"{len(items)} XQuAD questions, base model + RAG over the 240 paragraphs; baseline: "
        f"the fp32 model on the same prompts (contains: fast {fast['contains']}, "
        f"fp32 {plain['contains']})"
    )
    return [
        Figure(
            "xquad_exact_match_fast",
            "points",
            round(100 * fast["exact_match"], 1),
            round(100 * plain["exact_match"], 1),
            note,
        ),
        Figure(
            "xquad_f1_fast", "points", round(100 * fast["f1"], 1), round(100 * plain["f1"], 1), note
        ),
    ]
