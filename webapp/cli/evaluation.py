"""`webapp eval`, `webapp eval-retrieval`, `webapp evals list | show | compare | delete` and
`webapp qa build`: question sets, evaluation runs and their tables."""

from __future__ import annotations

import json
import sys
from pathlib import Path


def cmd_eval(services, args) -> int:
    from webapp.evaluation import qasets, runner

    owner = args.owner
    configs = runner.EvalConfig.parse_list(args.configs)
    qaset = qasets.load_file(args.data)
    items = qaset.only(args.split)[: args.limit] if args.limit else qaset.only(args.split)
    run = services.evaluation.run(
        owner, items, configs, qaset=qaset.name, split=args.split, progress=_progress(args)
    )
    if args.json:
        print(json.dumps(runner.public_summary(run)))
        return 0
    print(file=sys.stderr)
    print(f"run {run['run_id']}: {len(items)} questions, {run['seconds']} s")
    print(_summary_table(run["configs"]))
    return 0


def cmd_eval_retrieval(services, args) -> int:
    from webapp.evaluation import retrieval

    embed_model, overrides, tuned = services.settings.embed_model, {}, None
    if args.embedder:  # the same search, only the embedder differs
        tuned = services.tuned_embedders.resolve(args.owner, args.embedder)
        embed_model, overrides = str(tuned), {"embed_model": str(tuned), "embed_base_url": ""}

    def open_scratch(folder: Path) -> retrieval.Scratch:
        scratch = services.scratch(folder, **overrides)
        return retrieval.Scratch(scratch.knowledge, scratch.retrievers)

    modes = list(retrieval.MODES) if args.mode == "all" else [args.mode]
    results = retrieval.evaluate_modes(
        open_scratch,
        embed_model,
        args.dir,
        top_k=args.top_k,
        modes=modes,
        limit=args.limit,
        progress=_progress(args),
        split=args.split,
    )
    if tuned is not None:
        _record(tuned, args, results)
    if args.json:  # one object for one mode, a list for --mode all
        print(json.dumps(results if args.mode == "all" else results[0]))
        return 0
    print(file=sys.stderr)
    keys = ["ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10", "latency_ms_p50"]
    print(f"{'mode':<8}" + "".join(f"{k:>16}" for k in keys))
    for r in results:
        print(f"{r['mode']:<8}" + "".join(f"{r[k]:>16}" for k in keys))
    first = results[0]
    print(f"{first['queries']} queries, {first['documents']} documents, {first['chunks']} chunks")
    print(f"embedder: {first['embedder']}")
    return 0


def _record(folder: Path, args, results: list[dict]) -> None:
    """The figures into the tuned retriever's metadata.json, by data set and split."""
    from webapp.files import read_json
    from webapp.retrieval.tuning import METADATA, save_metadata

    metadata = read_json(folder / METADATA, None)
    if metadata is None:  # a plain sentence-transformers folder given by path
        return
    keys = ("ndcg@10", "recall@1", "recall@5", "recall@10", "mrr@10", "queries")
    figures = {r["mode"]: {k: r[k] for k in keys} for r in results}
    where = f"{Path(args.dir).name}/{args.split}" + (f"/first {args.limit}" if args.limit else "")
    metadata.setdefault("measured", {}).setdefault(where, {}).update(figures)
    save_metadata(folder, metadata)


def _progress(args):
    """A progress line on stderr, rewritten in place; silent with --json."""

    def progress(fraction: float, what: str) -> None:
        if not args.json:
            print(f"\r  {fraction:4.0%}  {what:<60}", end="", file=sys.stderr, flush=True)

    return progress


def cmd_evals(services, args) -> int:
    from webapp.evaluation import runner
    from webapp.evaluation.store import describe

    owner, store = args.owner, services.evals
    command = args.evals_command
    if command == "delete":
        store.delete(owner, args.run_id)
        print(f"deleted run {args.run_id}")
    elif command == "show":
        run = store.load(owner, args.run_id)
        print(f"run {run['run_id']} ({run.get('qaset')}, {run.get('questions')} questions)")
        print(_summary_table(run["configs"]))
    elif command == "compare":
        rows = runner.compare(store.load(owner, args.run_a), store.load(owner, args.run_b))
        if args.json:
            print(json.dumps(rows))
            return 0
        print(f"{'configuration':<24}{'metric':<28}{'A':>8}{'B':>8}{'B - A':>9}")
        for r in rows:
            a, b, d = (("–" if v is None else f"{v:.3f}") for v in (r["a"], r["b"], r["change"]))
            print(f"{r['config'][:23]:<24}{r['metric']:<28}{a:>8}{b:>8}{d:>9}")
    else:
        runs = store.list(owner)
        if args.json:
            print(json.dumps(runs))
            return 0
        if not runs:
            print("No evaluation runs yet. Run one with: webapp eval --data FILE")
        for r in runs:
            print(f"{r['run_id']}  {describe(r)}")
    return 0


def _summary_table(configs: list[dict]) -> str:
    from webapp.evaluation.runner import METRICS

    def cell(value) -> str:
        return "–" if value is None else f"{value:.3f}"

    head = f"{'configuration':<28}" + "".join(f"{label[:14]:>16}" for _, label in METRICS)
    lines = [head + f"{'latency s':>12}"]
    for c in configs:
        row = f"{c['label'][:27]:<28}" + "".join(f"{cell(c.get(k)):>16}" for k, _ in METRICS)
        lines.append(row + f"{c['latency_s']:>12.2f}")
    return "\n".join(lines)


def cmd_qa(services, args) -> int:
    from webapp.evaluation import qasets

    owner = args.owner
    items = services.questions.build(owner, per_document=args.per_doc)
    items = qasets.split_by_document(items, args.test_share)
    args.out.write_text(
        "".join(json.dumps(i.as_row(), ensure_ascii=False) + "\n" for i in items),
        encoding="utf-8",
    )
    counts = qasets.QASet("", items).counts()
    print(
        f"wrote {counts['questions']} questions from {counts['documents']} documents to "
        f"{args.out} ({counts['train']} train, {counts['test']} test); review them before use"
    )
    return 0
