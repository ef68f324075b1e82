"""Command line: `python -m webapp` (installed as `webapp`).

    webapp serve [--host H] [--port P]
    webapp ingest PATH...            one line per file; exit 1 if any failed
    webapp docs list [--json]
    webapp docs delete ID
    webapp ask "QUESTION" [--no-rag] [--adapter NAME] [--json]
    webapp train --data FILE --name NAME [--method lora|prompt|prefix] [--epochs N] [--lr X] [--rank R]
    webapp train --from-docs --name NAME
    webapp train --reader --name NAME     a reader adapter for your documents (use it with RAG)
    webapp reader [--rows N] [--out DIR]  rebuild the shipped reader (assets/reader) from
                                          public text in ../shared/data (`make reader`)
    webapp eval --data FILE [--configs base,rag,adapter:NAME,adapter:NAME+rag] [--split S] [--json]
    webapp eval-retrieval DIR|SQUAD.json [--top-k K] [--mode dense|bm25|hybrid|all] [--limit N]
                       [--split test] [--json]
    webapp evals list [--json] | show RUN_ID | compare RUN_A RUN_B [--json] | delete RUN_ID
    webapp qa build --out FILE [--per-doc N] [--test-share X]
    webapp bench [--quick] [--json] [--reader] [--load] [--retrieval] [--answers [--limit N]]
                 [--only NAMES]
    webapp adapters list [--json] | delete NAME | export NAME [--out DIR] | import ZIP [--name NAME]
    webapp users add NAME | remove NAME | list     password accounts (password read from stdin)
    webapp users hash NAME                         an account entry for WEBAPP_USERS (secrets)
    webapp delete-data --yes                      everything of one user, at once

Every command honours WEBAPP_STORAGE_DIR and the other WEBAPP_* settings. The commands that
act on a user's data take --user NAME (an operator's tool on the server itself: a password
account, or a Hugging Face user name in hf mode); without it they act as the local user.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from webapp.config import Settings, apply_process_environment
from webapp.errors import WebappError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webapp", description="Chat with your own documents.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)

    ingest = sub.add_parser("ingest", help="index files (folders: every supported file inside)")
    ingest.add_argument("paths", nargs="+", type=Path)

    docs = sub.add_parser("docs", help="list or delete documents")
    docs_sub = docs.add_subparsers(dest="docs_command", required=True)
    listing = docs_sub.add_parser("list")
    listing.add_argument("--json", action="store_true")
    delete = docs_sub.add_parser("delete")
    delete.add_argument("id")

    ask = sub.add_parser("ask", help="ask a question")
    ask.add_argument("question")
    ask.add_argument("--no-rag", action="store_true", help="ask the model alone")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--top-k", type=int)
    ask.add_argument("--max-new-tokens", type=int)
    ask.add_argument("--temperature", type=float)
    ask.add_argument("--adapter", help="answer with this adapter instead of the base model")

    train = sub.add_parser("train", help="train an adapter on your data")
    source = train.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", type=Path, help="JSONL or CSV training rows")
    source.add_argument("--from-docs", action="store_true", help="train on your documents' text")
    source.add_argument(
        "--reader",
        action="store_true",
        help="train a reader: find and cite answers in retrieved passages of your documents",
    )
    train.add_argument("--name", required=True)
    train.add_argument("--method", choices=["lora", "prompt", "prefix"], default="lora")
    train.add_argument("--epochs", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--rank", type=int)
    train.add_argument("--target", choices=["attention", "all-linear"])
    train.add_argument("--validation", type=float, help="share of rows held out (0-0.5)")

    rebuild = sub.add_parser(
        "reader", help="rebuild the shipped reader from public text (RAFT; long on a CPU)"
    )
    rebuild.add_argument("--rows", type=int, default=3000, help="training rows (default 3000)")
    rebuild.add_argument("--abstracts", type=int, default=3000, help="SciFact abstracts used")
    rebuild.add_argument("--out", type=Path, help="where to write it (default assets/reader)")
    rebuild.add_argument(
        "--curve",
        type=int,
        metavar="N",
        help="also save checkpoints (250, 500, 1000, 2000 rows) and score each on N held-out "
        "XQuAD questions: the learning curve, written into metadata.json",
    )

    bench = sub.add_parser("bench", help="measure speed against same-run baselines")
    bench.add_argument("--quick", action="store_true", help="a short smoke run")
    bench.add_argument("--json", action="store_true")
    bench.add_argument(
        "--reader",
        action="store_true",
        help="also train and measure a reader adapter on held-out XQuAD (about 15 min)",
    )
    bench.add_argument(
        "--load",
        action="store_true",
        help="also measure chat latency with 20 users at once while 2 upload (about 5 min)",
    )
    bench.add_argument(
        "--retrieval",
        action="store_true",
        help="also score dense, BM25 and hybrid search on SciFact and XQuAD (about 15 min)",
    )
    bench.add_argument(
        "--answers",
        action="store_true",
        help="also ask all 1,190 XQuAD questions through the chat: hit@5, citations (~30 min)",
    )
    bench.add_argument(
        "--limit",
        type=int,
        help="--answers: only N questions, spread over the paragraphs (fixed sample, seed 0)",
    )
    bench.add_argument(
        "--only",
        default="",
        help="comma-separated benchmarks to run, e.g. generation,quality (default: all)",
    )

    ev = sub.add_parser("eval", help="compare base, RAG and adapters on your questions")
    ev.add_argument("--data", type=Path, required=True, help="question set (.jsonl or .csv)")
    ev.add_argument("--configs", default="base,rag", help="e.g. base,rag,adapter:NAME+rag")
    ev.add_argument("--split", choices=["all", "train", "test"], default="all")
    ev.add_argument("--limit", type=int, help="only the first N questions")
    ev.add_argument("--json", action="store_true")

    evr = sub.add_parser(
        "eval-retrieval", help="score retrieval on a BEIR folder or a SQuAD-format .json file"
    )
    evr.add_argument("dir", type=Path)
    evr.add_argument("--top-k", type=int, default=10)
    evr.add_argument(
        "--mode", default="hybrid", help="dense, bm25, hybrid, or all (one index, each mode)"
    )
    evr.add_argument("--limit", type=int, help="only the first N judged queries")
    evr.add_argument(
        "--split", default="test", help="a BEIR folder's judgements to use: qrels/SPLIT.tsv"
    )
    evr.add_argument("--json", action="store_true")

    evals = sub.add_parser("evals", help="saved evaluation runs")
    evals_sub = evals.add_subparsers(dest="evals_command", required=True)
    evals_sub.add_parser("list").add_argument("--json", action="store_true")
    evals_sub.add_parser("show").add_argument("run_id")
    e_compare = evals_sub.add_parser("compare")
    e_compare.add_argument("run_a")
    e_compare.add_argument("run_b")
    e_compare.add_argument("--json", action="store_true")
    evals_sub.add_parser("delete").add_argument("run_id")

    qa = sub.add_parser("qa", help="build a question set from your documents")
    qa_sub = qa.add_subparsers(dest="qa_command", required=True)
    qa_build = qa_sub.add_parser("build")
    qa_build.add_argument("--out", type=Path, required=True)
    qa_build.add_argument("--per-doc", type=int, default=10)
    qa_build.add_argument("--test-share", type=float, default=0.5)

    adapters = sub.add_parser("adapters", help="list, delete, export or import adapters")
    adapters_sub = adapters.add_subparsers(dest="adapters_command", required=True)
    a_list = adapters_sub.add_parser("list")
    a_list.add_argument("--json", action="store_true")
    adapters_sub.add_parser("delete").add_argument("name")
    a_export = adapters_sub.add_parser("export")
    a_export.add_argument("name")
    a_export.add_argument("--out", type=Path, default=Path("."))
    a_import = adapters_sub.add_parser("import")
    a_import.add_argument("zip", type=Path)
    a_import.add_argument("--name")

    users = sub.add_parser("users", help="password accounts (WEBAPP_AUTH=password)")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    users_sub.add_parser("add", help="create or change; password from stdin").add_argument("name")
    users_sub.add_parser("remove").add_argument("name")
    users_sub.add_parser("list")
    users_sub.add_parser(
        "hash", help="print a NAME:HASH entry for WEBAPP_USERS; password from stdin"
    ).add_argument("name")

    forget = sub.add_parser("delete-data", help="delete everything of one user")
    forget.add_argument("--yes", action="store_true", help="confirm: this cannot be undone")

    for name in ("ingest", "docs", "ask", "train", "adapters", "eval", "evals", "qa"):
        _add_user_option(sub.choices[name])
    _add_user_option(forget)
    return parser


def _add_user_option(parser: argparse.ArgumentParser) -> None:
    """--user on the command itself, or on each of its subcommands (docs list --user X)."""
    subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subs:
        parser.add_argument(
            "--user", help="act for this user (a password account, or a Hugging Face name)"
        )
    for action in subs:
        for child in action.choices.values():
            _add_user_option(child)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    overrides = {
        k: v
        for k, v in (("host", getattr(args, "host", None)), ("port", getattr(args, "port", None)))
        if v
    }
    settings = Settings(**overrides)
    apply_process_environment(settings)
    try:
        if args.command == "serve":
            from webapp.app import serve

            serve(settings)
            return 0
        if args.command == "users":
            return cmd_users(settings, args)
        if writes_storage(args):  # one writer per storage folder (a running server included)
            from webapp import storage_lock

            storage_lock.hold(settings.storage_dir, args.command)
        from webapp.services import Services, quiet_libraries

        quiet_libraries()
        services = Services(settings)
        args.owner = cli_owner(services, getattr(args, "user", None))
        return COMMANDS[args.command](services, args)
    except WebappError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def writes_storage(args) -> bool:
    sub = {
        "docs": getattr(args, "docs_command", None),
        "adapters": getattr(args, "adapters_command", None),
        "evals": getattr(args, "evals_command", None),
    }.get(args.command)
    return args.command in ("ingest", "train", "eval", "delete-data") or sub in (
        "delete",
        "import",
    )


def cli_owner(services, name: str | None) -> str:
    """The owner the command acts for: --user NAME in the configured sign-in mode."""
    from webapp.users import UserError, check_name, owner_for

    settings = services.settings
    if name is None:
        return settings.local_user
    if settings.auth == "anonymous":
        raise UserError("Anonymous workspaces have no names; --user needs another sign-in mode.")
    check_name(name)
    if settings.auth == "password" and name not in services.users.names():
        raise UserError(f"There is no user '{name}' (see `webapp users list`).")
    return owner_for(settings.auth, name, settings.local_user)


def cmd_users(settings, args) -> int:
    import getpass

    from webapp.services import Services

    users = Services(settings).users
    if args.users_command == "list":
        for name in users.names():
            print(name)
        return 0
    if args.users_command == "remove":
        users.remove(args.name)
        print(f"removed user {args.name} (their data stays until `webapp delete-data --user`)")
        return 0
    if sys.stdin.isatty():
        password = getpass.getpass(f"Password for {args.name}: ")
        if getpass.getpass("Again: ") != password:
            print("error: the passwords differ", file=sys.stderr)
            return 2
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if args.users_command == "hash":
        from webapp.users import check_name, check_password, hash_password

        check_password(password)
        print(f"{check_name(args.name)}:{hash_password(password)}")
        return 0
    new = users.add(args.name, password)
    print(f"{'added' if new else 'changed the password of'} user {args.name}")
    return 0


def cmd_delete_data(services, args) -> int:
    if not args.yes:
        print(
            "error: this deletes every document, adapter, question set and evaluation run "
            "of the user; add --yes to confirm",
            file=sys.stderr,
        )
        return 2
    removed = services.delete_owner(args.owner)
    print("deleted " + ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in removed.items()))
    return 0


def cmd_ingest(services, args) -> int:
    from webapp.knowledge.formats import KINDS

    files: list[Path] = []
    for path in args.paths:
        if path.is_dir():
            files += sorted(
                p
                for p in path.rglob("*")
                if p.is_file() and p.suffix.lower() in KINDS and not p.name.startswith(".")
            )
        else:
            files.append(path)
    failed = 0
    for path in files:
        if not path.is_file():
            print(f"{path.name}: failed: no such file")
            failed += 1
            continue
        result = services.knowledge.ingest(args.owner, path, path.name)
        print(f"{result.file}: {result.describe()}", flush=True)
        failed += not result.ok
    return 1 if failed else 0


def cmd_docs(services, args) -> int:
    owner = args.owner
    if args.docs_command == "delete":
        info = services.knowledge.delete(owner, args.id)
        print(f"deleted {info.file} ({info.id})")
        return 0
    docs = services.knowledge.list_documents(owner)
    if args.json:
        print(json.dumps([d.as_dict() for d in docs]))
        return 0
    if not docs:
        print("No documents yet. Add some with: webapp ingest PATH...")
    for d in docs:
        pages = f"{d.pages} pages, " if d.pages is not None else ""
        print(f"{d.id}  {d.file}  ({pages}{d.chunks} chunks, {d.bytes} bytes, added {d.added})")
    return 0


def cmd_ask(services, args) -> int:
    from webapp.chat.service import ChatOptions

    s = services.settings
    options = ChatOptions(
        use_rag=not args.no_rag,
        top_k=args.top_k or s.top_k,
        temperature=s.temperature if args.temperature is None else args.temperature,
        max_new_tokens=args.max_new_tokens or s.max_new_tokens,
        adapter=args.adapter,
    )
    if args.json:
        answer = services.chat.ask(args.owner, args.question, [], options)
        print(json.dumps(answer.as_dict(), ensure_ascii=False))
        return 0
    answer = None
    live = sys.stdout.isatty()  # a terminal sees tokens as they come; a pipe gets the result
    shown = 0
    for answer in services.chat.stream(args.owner, args.question, [], options):
        if live and not answer.done:
            print(answer.answer[shown:], end="", flush=True)
            shown = len(answer.answer)
    print("" if live and shown else answer.answer)
    for n, src in enumerate(answer.sources, start=1):
        print(f"  [{n}] {src.where} (score {src.score:.2f})")
    if answer.grounded is False:
        print("  (not supported by the cited passages: check the sources)")
    return 0


def cmd_train(services, args) -> int:
    from pydantic import ValidationError

    from webapp.adapters import datasets
    from webapp.adapters.config import TrainConfig
    from webapp.adapters.training import train

    owner = args.owner
    given = {
        "name": args.name,
        "method": args.method,
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "rank": args.rank,
        "target": args.target,
        "validation_fraction": args.validation,
    }
    try:
        config = TrainConfig(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: {problems}", file=sys.stderr)
        return 2
    if services.adapters.exists(owner, config.name):
        print(f"error: an adapter named '{config.name}' already exists", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_file():
        print(f"error: there is no file {args.data}", file=sys.stderr)
        return 2
    if args.reader:
        from webapp.adapters import reader
        from webapp.evaluation import builder

        questions = builder.from_documents(services.knowledge, owner)
        data = reader.build(services, owner, questions)
        config = config.model_copy(update={"max_length": reader.MAX_LENGTH})
    elif args.from_docs:
        data = datasets.from_documents(services.knowledge, owner)
    else:
        data = datasets.load_file(args.data)
    print(
        f"training {config.method} adapter '{config.name}' on {len(data.examples)} rows of {data.name}",
        flush=True,
    )

    def report(status) -> None:
        if status.state == "training" and status.train_loss:
            step, loss = status.train_loss[-1]
            print(
                f"  step {step}/{status.total_steps}  epoch {status.epoch}/{status.epochs}  "
                f"loss {loss:.3f}  {status.eta_s or 0:.0f}s left",
                flush=True,
            )

    metadata = train(
        config,
        data,
        services.base_model_path(),
        services.settings.llm_model,
        services.adapters.folder(owner, config.name),
        report=report,
    )
    print(
        f"saved adapter '{config.name}': final loss {metadata['final_train_loss']}, "
        f"{metadata['tokens_per_s']} tokens/s"
    )
    return 0


def cmd_adapters(services, args) -> int:
    owner, registry = args.owner, services.adapters
    command = args.adapters_command
    if command == "delete":
        registry.delete(owner, args.name)
        print(f"deleted adapter {args.name}")
    elif command == "export":
        print(registry.export_zip(owner, args.name, args.out))
    elif command == "import":
        info = registry.import_zip(owner, args.zip, args.name)
        print(f"imported adapter {info.name} ({info.method})")
    elif args.json:
        print(json.dumps([a.summary() for a in registry.list(owner)]))
    else:
        listed = registry.list(owner)
        if not listed:
            print("No adapters yet. Train one with: webapp train --data FILE --name NAME")
        for a in listed:
            m = a.summary()
            print(
                f"{a.name}  {a.method}  {m['rows']} rows of {m['dataset']}, {m['epochs']} epochs, "
                f"loss {m['final_train_loss']}, {m['finished']}"
            )
    return 0


def cmd_bench(services, args) -> int:
    from webapp.bench import runner

    extra = tuple(name for name in runner.OPTIONAL if getattr(args, name))
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    result = runner.run(services, quick=args.quick, extra=extra, only=only, limit=args.limit)
    if args.json:
        figures = [f.as_dict() for f in result["figures"]]
        print(json.dumps({"machine": result["machine"], "figures": figures}))
    else:
        print(runner.table(result))
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


def cmd_eval(services, args) -> int:
    from webapp.evaluation import qasets, runner

    owner = args.owner
    configs = runner.EvalConfig.parse_list(args.configs)
    qaset = qasets.load_file(args.data)
    items = qaset.only(args.split)[: args.limit] if args.limit else qaset.only(args.split)

    def progress(fraction: float, what: str) -> None:
        if not args.json:
            print(f"\r  {fraction:4.0%}  {what:<60}", end="", file=sys.stderr, flush=True)

    run = services.evaluate(
        owner, items, configs, qaset=qaset.name, split=args.split, progress=progress
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

    def progress(fraction: float, what: str) -> None:
        if not args.json:
            print(f"\r  {fraction:4.0%}  {what:<60}", end="", file=sys.stderr, flush=True)

    modes = list(retrieval.MODES) if args.mode == "all" else [args.mode]
    results = retrieval.evaluate_modes(
        services,
        args.dir,
        top_k=args.top_k,
        modes=modes,
        limit=args.limit,
        progress=progress,
        split=args.split,
    )
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
    return 0


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


def cmd_qa(services, args) -> int:
    from webapp.evaluation import builder, qasets

    owner = args.owner
    items = builder.build(services, owner, per_document=args.per_doc)
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


def cmd_reader(services, args) -> int:
    from webapp.adapters import raft

    out = args.out or raft.ASSET
    steps = [n for n in (250, 500, 1000, 2000) if n < args.rows] if args.curve else []
    checkpoints = {n: out.parent / f"{out.name}-{n}" for n in steps}
    metadata = raft.rebuild(
        services, rows=args.rows, out=out, abstracts=args.abstracts, checkpoints=checkpoints
    )
    print(
        f"saved the reader to {out}: {metadata['recipe']['rows']} rows, "
        f"{metadata['train_s']:.0f} s of training, final loss {metadata['final_train_loss']}"
    )
    if args.curve:
        import json

        from webapp.bench import reader

        folders = {f"{n} rows": folder for n, folder in checkpoints.items()}
        folders[f"{args.rows} rows"] = out
        curve = reader.shipped_curve(services, folders, questions=args.curve)
        metadata["learning_curve"] = curve
        (out / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return 0


COMMANDS = {
    "reader": cmd_reader,
    "eval": cmd_eval,
    "eval-retrieval": cmd_eval_retrieval,
    "evals": cmd_evals,
    "qa": cmd_qa,
    "bench": cmd_bench,
    "ingest": cmd_ingest,
    "docs": cmd_docs,
    "ask": cmd_ask,
    "train": cmd_train,
    "adapters": cmd_adapters,
    "delete-data": cmd_delete_data,
}

if __name__ == "__main__":
    sys.exit(main())
