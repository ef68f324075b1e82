"""Command line: `python -m webapp` (installed as `webapp`).

    webapp serve [--host H] [--port P]
    webapp ingest PATH...            one line per file; exit 1 if any failed
    webapp docs list [--json]
    webapp docs delete ID
    webapp ask "QUESTION" [--no-rag] [--adapter NAME] [--json]
    webapp feedback list [--json]    your 👍/👎 on the chat's answers
    webapp feedback export [--kind kto|dpo|raw] [--out FILE]   as TRL training rows (JSONL)
    webapp train --data FILE --name NAME [--method lora|prompt|prefix] [--epochs N] [--lr X] [--rank R]
    webapp train --method kto|dpo --data FILE --name NAME [--beta B]   a LoRA from preferences
                                          (TRL; rows from `webapp feedback export --kind kto|dpo`)
    webapp train --from-docs --name NAME
    webapp train --reader --name NAME     a reader adapter for your documents (use it with RAG)
    webapp reader [--rows N] [--out DIR]  rebuild the shipped reader (assets/reader) from
                                          public text in ../shared/data (`make reader`)
    webapp eval --data FILE [--configs base,rag,adapter:NAME,adapter:NAME+rag] [--split S] [--json]
    webapp eval-retrieval DIR|SQUAD.json [--top-k K] [--mode dense|bm25|hybrid|all] [--limit N]
                       [--split test] [--embedder NAME|DIR] [--json]
    webapp train-retriever BEIR_DIR --split train --name NAME [--epochs E] [--batch B]
                       [--max-pairs K]        the embedder tuned on a BEIR folder's judgements
    webapp train-retriever --from-docs --name NAME [--per-doc N]   ... on your documents
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

parser builds the arguments, one function per command group; the command modules (documents,
chat, feedback, adapters, retrievers, evaluation, bench, accounts, serve) import their heavy
parts inside each command, so `webapp --help` and the light commands start fast.
"""

from __future__ import annotations

import sys

from webapp.cli.accounts import cli_owner, cmd_delete_data, cmd_users
from webapp.cli.adapters import cmd_adapters, cmd_reader, cmd_train
from webapp.cli.bench import cmd_bench
from webapp.cli.chat import cmd_ask
from webapp.cli.documents import cmd_docs, cmd_ingest
from webapp.cli.evaluation import cmd_eval, cmd_eval_retrieval, cmd_evals, cmd_qa
from webapp.cli.feedback import cmd_feedback
from webapp.cli.parser import build_parser
from webapp.cli.retrievers import cmd_train_retriever
from webapp.cli.serve import cmd_serve, settings_overrides
from webapp.config import Settings, apply_process_environment
from webapp.errors import WebappError

# Commands on the settings alone: before the storage lock and the composition root.
SETTINGS_COMMANDS = {"serve": cmd_serve, "users": cmd_users}
# Commands on the services, for args.owner (--user NAME, or the local user).
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
    "feedback": cmd_feedback,
    "train": cmd_train,
    "train-retriever": cmd_train_retriever,
    "adapters": cmd_adapters,
    "delete-data": cmd_delete_data,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    settings = Settings(**settings_overrides(args))
    apply_process_environment(settings)
    try:
        if args.command in SETTINGS_COMMANDS:
            return SETTINGS_COMMANDS[args.command](settings, args)
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
    if args.command == "eval-retrieval" and args.embedder:
        return True  # its figures go into the tuned retriever's metadata.json
    return args.command in ("ingest", "train", "train-retriever", "eval", "delete-data") or sub in (
        "delete",
        "import",
    )
