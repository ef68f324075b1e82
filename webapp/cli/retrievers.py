"""`webapp train-retriever`: the embedder tuned on question-passage pairs, from a BEIR
folder's judgements or from questions built from your documents (retrieval.tuning). Use it
with `webapp eval-retrieval ... --embedder NAME`."""

from __future__ import annotations

import sys

from webapp.cli.parser import validated


def cmd_train_retriever(services, args) -> int:
    from webapp.models.resolve import resolve_embedder
    from webapp.retrieval import pairs, tuning

    owner, store = args.owner, services.tuned_embedders
    config = _config(services, args)
    if config is None:
        return 2
    out = store.folder(owner, args.name)  # checks the name
    if store.exists(owner, args.name):
        print(f"error: a retriever named '{args.name}' already exists", file=sys.stderr)
        return 2
    if args.from_docs:
        (corpus, queries, qrels), recipe = _from_documents(services, owner, args.per_doc)
    else:
        from webapp.evaluation.retrieval import load_beir

        if args.dir is None:
            print("error: give a BEIR folder, or --from-docs", file=sys.stderr)
            return 2
        corpus, queries, qrels = load_beir(args.dir, args.split)
        recipe = {"source": "beir", "folder": args.dir.name, "split": args.split}
    rows = pairs.triples(corpus, queries, qrels, max_pairs=args.max_pairs, seed=config.seed)
    base = resolve_embedder(services.settings.embed_model)
    print(f"training retriever '{args.name}' on {len(rows)} pairs from {_what(recipe)}", flush=True)
    metadata = tuning.tune_embedder(
        rows, base, out, config, recipe | {"passages": len(corpus)}, progress=_progress
    )
    print(file=sys.stderr)
    print(
        f"saved retriever '{args.name}': {metadata['data']['pairs']} pairs, "
        f"{metadata['train_s']} s, {metadata['pairs_per_s']} pairs/s, "
        f"final loss {metadata['final_train_loss']}\n"
        f"score it: webapp eval-retrieval DIR --embedder {args.name}"
    )
    return 0


def _config(services, args):
    """The TuneConfig the options ask for, or None (the problems printed) if invalid."""
    from webapp.models.quantize import fast_cpu
    from webapp.retrieval.tuning import TuneConfig

    given = {"epochs": args.epochs, "batch_size": args.batch, "learning_rate": args.lr}
    settings = services.settings
    given["bf16"] = fast_cpu(settings.fast_cpu, settings.device)  # as the app embeds
    return validated(TuneConfig, given)


def _what(recipe: dict) -> str:
    if recipe["source"] == "beir":
        return f"{recipe['folder']} ({recipe['split']} judgements)"
    return f"questions from {recipe['documents']} of your documents"


def _from_documents(services, owner: str, per_document: int):
    """((corpus, queries, qrels), recipe): every chunk of the owner's documents, and the
    built questions whose answer a chunk of their document holds (reader.gold_passage)."""
    from webapp.adapters.reader import gold_passage
    from webapp.errors import DatasetError

    knowledge = services.knowledge
    docs = {d.file: d for d in knowledge.list_documents(owner)}
    chunks = {f: knowledge.chunks(owner, d.id) for f, d in docs.items()}
    corpus = {f"{docs[f].id}#{c.index}": c.text for f in docs for c in chunks[f]}
    queries: dict[str, str] = {}
    qrels: dict[str, dict[str, int]] = {}
    items = services.questions.build(owner, per_document=per_document, progress=_progress)
    for n, item in enumerate(items):
        if not (item.answerable and item.answer and item.source in docs):
            continue
        gold = gold_passage(item, item.source, docs[item.source].id, chunks[item.source])
        if gold is not None:
            held = [c for c in chunks[item.source] if c.text == gold.text]
            queries[f"q{n}"] = item.question
            qrels[f"q{n}"] = {f"{docs[item.source].id}#{held[0].index}": 1}
    if not qrels:
        raise DatasetError("No questions could be built from your documents; add documents first.")
    recipe = {"source": "documents", "documents": len(docs), "questions": len(qrels)}
    return (corpus, queries, qrels), recipe


def _progress(fraction: float, what: str) -> None:
    print(f"\r  {fraction:4.0%}  {what:<60}", end="", file=sys.stderr, flush=True)
