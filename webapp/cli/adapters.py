"""`webapp train`, `webapp adapters list | delete | export | import` and `webapp reader`
(rebuild the shipped reader)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from webapp.cli.parser import validated


def cmd_train(services, args) -> int:
    from webapp.adapters.training import train

    owner = args.owner
    config = _train_config(args)
    if config is None:
        return 2
    if services.adapters.exists(owner, config.name):
        print(f"error: an adapter named '{config.name}' already exists", file=sys.stderr)
        return 2
    if args.data is not None and not args.data.is_file():
        print(f"error: there is no file {args.data}", file=sys.stderr)
        return 2
    config, data = _training_rows(services, args, config)
    print(
        f"training {config.method} adapter '{config.name}' on {len(data.examples)} rows of {data.name}",
        flush=True,
    )
    metadata = train(
        config,
        data,
        services.base_model_path(),
        services.settings.llm_model,
        services.adapters.folder(owner, config.name),
        report=_report,
    )
    print(
        f"saved adapter '{config.name}': final loss {metadata['final_train_loss']}, "
        f"{metadata['tokens_per_s']} tokens/s"
    )
    return 0


def _train_config(args):
    """The TrainConfig the options ask for, or None (the problems printed) if invalid."""
    from webapp.adapters.config import TrainConfig

    given = {
        "name": args.name,
        "method": args.method,
        "epochs": args.epochs,
        "learning_rate": args.lr,
        "rank": args.rank,
        "target": args.target,
        "validation_fraction": args.validation,
        "beta": getattr(args, "beta", None),
    }
    return validated(TrainConfig, given)


def _training_rows(services, args, config):
    """(config, dataset): reader rows from the documents, the documents' text, or a file."""
    from webapp.adapters import datasets

    owner = args.owner
    if args.reader:
        from webapp.adapters import question_builder, reader

        questions = question_builder.from_documents(services.knowledge, owner)
        parts = services.generator, services.knowledge, services.chat.retrieve
        data = reader.build(*parts, owner, questions)
        return config.model_copy(update={"max_length": reader.MAX_LENGTH}), data
    if args.from_docs:
        return config, datasets.from_documents(services.knowledge, owner)
    return config, datasets.load_file(args.data, kind=_data_kind(config.method))


def _data_kind(method: str) -> str:
    """The rows a method trains on: preference rows (kto, dpo) or answers."""
    from webapp.adapters.config import PREFERENCE

    return method if method in PREFERENCE else "supervised"


def _report(status) -> None:
    if status.state == "training" and status.train_loss:
        step, loss = status.train_loss[-1]
        print(
            f"  step {step}/{status.total_steps}  epoch {status.epoch}/{status.epochs}  "
            f"loss {loss:.3f}  {status.eta_s or 0:.0f}s left",
            flush=True,
        )


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
            how = (
                f"{a.method} ({a.metadata['objective']})" if "objective" in a.metadata else a.method
            )
            print(
                f"{a.name}  {how}  {m['rows']} rows of {m['dataset']}, {m['epochs']} epochs, "
                f"loss {m['final_train_loss']}, {m['finished']}"
            )
    return 0


def cmd_reader(services, args) -> int:
    """Rebuild the shipped reader (assets/reader) from public text in ../shared/data."""
    from webapp.adapters import raft

    def open_corpus(folder: Path, documents: int) -> raft.Corpus:
        corpus = services.scratch(folder, max_documents=documents)
        return raft.Corpus(corpus.knowledge, corpus.chat.retrieve)

    out = args.out or raft.ASSET
    steps = [n for n in (250, 500, 1000, 2000) if n < args.rows] if args.curve else []
    checkpoints = {n: out.parent / f"{out.name}-{n}" for n in steps}
    metadata = raft.rebuild(
        open_corpus,
        services.generator,
        services.base_model_path(),
        services.settings.llm_model,
        rows=args.rows,
        out=out,
        abstracts=args.abstracts,
        checkpoints=checkpoints,
    )
    print(
        f"saved the reader to {out}: {metadata['recipe']['rows']} rows, "
        f"{metadata['train_s']:.0f} s of training, final loss {metadata['final_train_loss']}"
    )
    if args.curve:
        from webapp.bench import reader

        folders = {f"{n} rows": folder for n, folder in checkpoints.items()}
        folders[f"{args.rows} rows"] = out
        curve = reader.shipped_curve(services, folders, questions=args.curve)
        metadata["learning_curve"] = curve
        (out / "metadata.json").write_text(json.dumps(metadata, indent=2))
    return 0
