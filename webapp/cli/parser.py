"""The argument parser: one function per command group adds its subcommands, in the order
`webapp --help` lists them; --user goes on every command that acts on a user's data."""

from __future__ import annotations

import argparse
from pathlib import Path

# The commands that act on a user's data, each with --user (on its subcommands, if any).
USER_COMMANDS = (
    "ingest",
    "docs",
    "ask",
    "feedback",
    "train",
    "train-retriever",
    "adapters",
    "eval",
    "eval-retrieval",
    "evals",
    "qa",
    "delete-data",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="webapp", description="Chat with your own documents.")
    sub = parser.add_subparsers(dest="command", required=True)
    add_serve(sub)
    add_documents(sub)
    add_ask(sub)
    add_feedback(sub)
    add_training(sub)
    add_bench(sub)
    add_evaluation(sub)
    add_adapters(sub)
    add_users(sub)
    for name in USER_COMMANDS:
        _add_user_option(sub.choices[name])
    return parser


def add_serve(sub) -> None:
    serve = sub.add_parser("serve", help="start the web app")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)


def add_documents(sub) -> None:
    """ingest PATH..., docs list | delete ID."""
    ingest = sub.add_parser("ingest", help="index files (folders: every supported file inside)")
    ingest.add_argument("paths", nargs="+", type=Path)

    docs = sub.add_parser("docs", help="list or delete documents")
    docs_sub = docs.add_subparsers(dest="docs_command", required=True)
    listing = docs_sub.add_parser("list")
    listing.add_argument("--json", action="store_true")
    delete = docs_sub.add_parser("delete")
    delete.add_argument("id")


def add_ask(sub) -> None:
    ask = sub.add_parser("ask", help="ask a question")
    ask.add_argument("question")
    ask.add_argument("--no-rag", action="store_true", help="ask the model alone")
    ask.add_argument("--json", action="store_true")
    ask.add_argument("--top-k", type=int)
    ask.add_argument("--max-new-tokens", type=int)
    ask.add_argument("--temperature", type=float)
    ask.add_argument("--adapter", help="answer with this adapter instead of the base model")


def add_feedback(sub) -> None:
    """feedback list | export: the 👍/👎 given to the chat's answers."""
    feedback = sub.add_parser("feedback", help="your ratings of the chat's answers")
    feedback_sub = feedback.add_subparsers(dest="feedback_command", required=True)
    feedback_sub.add_parser("list").add_argument("--json", action="store_true")
    export = feedback_sub.add_parser("export", help="as training rows (JSONL)")
    export.add_argument(
        "--kind",
        choices=["kto", "dpo", "raw"],
        default="kto",
        help="kto: every rated answer, labelled; dpo: 👎 answers with a better answer; "
        "raw: the records as stored",
    )
    export.add_argument("--out", type=Path, help="write to this file (default: stdout)")


def add_training(sub) -> None:
    """train (an adapter on your data) and reader (rebuild the shipped reader)."""
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
    train.add_argument(
        "--method",
        choices=["lora", "prompt", "prefix", "kto", "dpo"],
        default="lora",
        help="kto, dpo: a LoRA from preference rows (webapp feedback export --kind kto|dpo)",
    )
    train.add_argument("--beta", type=float, help="kto, dpo: preference strength (0.1)")
    train.add_argument("--epochs", type=int)
    train.add_argument("--lr", type=float)
    train.add_argument("--rank", type=int)
    train.add_argument("--target", choices=["attention", "all-linear"])
    train.add_argument("--validation", type=float, help="share of rows held out (0-0.5)")

    add_train_retriever(sub)
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


def add_train_retriever(sub) -> None:
    tune = sub.add_parser(
        "train-retriever",
        help="tune the embedder on question-passage pairs (BM25 hard negatives)",
    )
    tune.add_argument("dir", type=Path, nargs="?", help="a BEIR folder (its judgements)")
    tune.add_argument(
        "--from-docs", action="store_true", help="on questions built from your documents"
    )
    tune.add_argument("--name", required=True)
    tune.add_argument("--split", default="train", help="the BEIR judgements: qrels/SPLIT.tsv")
    tune.add_argument("--epochs", type=int, help="passes over the pairs (default 1)")
    tune.add_argument("--batch", type=int, help="pairs per step (default 32)")
    tune.add_argument("--lr", type=float, help="learning rate (default 2e-5)")
    tune.add_argument("--max-pairs", type=int, help="a fixed sample of at most K pairs")
    tune.add_argument("--per-doc", type=int, default=10, help="--from-docs: questions per document")


def add_bench(sub) -> None:
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


def add_evaluation(sub) -> None:
    """eval, eval-retrieval, evals list | show | compare | delete, qa build."""
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
    evr.add_argument(
        "--embedder", help="a tuned retriever (its name, or its folder) instead of the app's"
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


def add_adapters(sub) -> None:
    """adapters list | delete NAME | export NAME | import ZIP."""
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


def add_users(sub) -> None:
    """users add | remove | list | hash (password accounts), and delete-data."""
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


def validated(model, given: dict):
    """`model` (a pydantic model) built from the options given (None: not given, so the
    default), or None with the problems printed, one "field: why" each."""
    import sys

    from pydantic import ValidationError

    try:
        return model(**{k: v for k, v in given.items() if v is not None})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        print(f"error: {problems}", file=sys.stderr)
        return None
