"""RAG or fine-tuning, or both? The held-out reader benchmark on XQuAD (../shared/data).

The 240 XQuAD paragraphs become documents in a throwaway knowledge base and are split in
two halves by document (seeded). A reader adapter is trained on questions the question-set
builder generates from the first half only; all four configurations — base, base + RAG,
reader, reader + RAG — then answer human-written XQuAD questions about the other half,
through the same chat service users talk to.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path

from webapp.bench.training import XQUAD

OWNER = "bench"


def run(services, questions: int = 100, per_document: int = 4, epochs: int = 2, seed: int = 0):
    """Returns {"configs": [...summaries], "train_s", "tokens_per_s", "rows", ...}."""
    from webapp.adapters import question_builder, reader
    from webapp.adapters.training import train
    from webapp.evaluation import runner, squad

    paragraphs = squad.load(XQUAD)
    files = sorted(p.file for p in paragraphs)
    random.Random(seed).shuffle(files)
    train_files, test_files = set(files[: len(files) // 2]), set(files[len(files) // 2 :])
    with tempfile.TemporaryDirectory(prefix="webapp-reader-bench-") as tmp:
        bench = services.scratch(Path(tmp))
        folder = Path(tmp) / "docs"
        for path in squad.write_documents(paragraphs, folder):
            bench.knowledge.ingest(OWNER, path, path.name)
        asked = question_builder.from_documents(
            bench.knowledge, OWNER, per_document=per_document, files=train_files
        )
        parts = bench.generator, bench.knowledge, bench.chat.retrieve
        data = reader.build(*parts, OWNER, asked, name="xquad generated questions")
        config = reader.reader_config("reader", epochs=epochs)
        started = time.perf_counter()
        metadata = train(
            config,
            data,
            bench.base_model_path(),
            bench.settings.llm_model,
            bench.adapters.folder(OWNER, "reader"),
            report=lambda status: None,
        )
        train_s = time.perf_counter() - started
        held_out = [p for p in paragraphs if p.file in test_files]
        items = squad.sample_questions(held_out, questions, seed=seed + 1)
        configs = runner.EvalConfig.parse_list("base,rag,adapter:reader,adapter:reader+rag")
        run = runner.run(bench.chat, OWNER, items, configs, top_k=bench.settings.top_k)
    return {
        "configs": run["configs"],
        "rows": len(data.examples),
        "generated_questions": len(asked),
        "train_s": round(train_s, 1),
        "tokens_per_s": metadata["tokens_per_s"],
        "questions": len(items),
        "epochs": epochs,
    }


def shipped_curve(
    services, folders: dict[str, Path], questions: int = 100, seed: int = 0, log=print
):
    """The shipped reader on XQuAD, which it never trained on (adapters.raft trains on SciFact
    and the R manuals): base + RAG without the reader, then, for each reader folder (the
    checkpoints of one training run, by label), every question answered by that reader
    ("reader+rag"); for the last one also as the chat routes them ("rag": fact questions).

    Returns {"questions": n, "seconds": s, "configs": [{"name", "rows", "contains", "f1",
    "exact_match", "citation_correct", ...}]}."""
    from webapp.adapters import raft
    from webapp.bench import common
    from webapp.evaluation import runner, squad

    paragraphs = squad.load(XQUAD)
    items = squad.sample_questions(paragraphs, questions, seed=seed)
    common.generator(services)  # the fast copy, which the reader answers from, is ready
    started = time.perf_counter()
    out = []
    with common.throwaway(services) as bench:
        for path in squad.write_documents(paragraphs, Path(bench.settings.storage_dir) / "xquad"):
            bench.knowledge.ingest(common.OWNER, path, path.name)
        top_k = bench.settings.top_k

        def ask(spec: str, label: str, rows: int | None) -> None:
            run = runner.run(
                bench.chat, common.OWNER, items, runner.EvalConfig.parse_list(spec), top_k=top_k
            )
            for summary in run["configs"]:
                out.append({**summary, "rows": rows, "reader_label": label})
                log(
                    f"{label:>14} {summary['name']:<11} contains {summary['contains']:.3f}  "
                    f"F1 {summary['f1']:.3f}  EM {summary.get('exact_match', 0):.3f}  "
                    f"({run['seconds']:.0f} s)"
                )

        ask("plain+rag", "no reader", 0)
        for n, (label, folder) in enumerate(folders.items(), start=1):
            settings = bench.settings.model_copy(update={"reader": str(folder)})
            bench.chat.reader = raft.shipped(settings)
            if bench.chat.reader is None:
                raise FileNotFoundError(f"no reader for {settings.llm_model} at {folder}")
            meta = bench.chat.reader.metadata
            rows = meta.get("rows_trained") or (meta.get("dataset") or {}).get("rows")
            ask("reader+rag,rag" if n == len(folders) else "reader+rag", label, rows)
    return {
        "questions": len(items),
        "seconds": round(time.perf_counter() - started, 1),
        "configs": out,
    }
