"""What the Knowledge base tab shows: the document list and its choices, an upload's
results, a document's chunks, and the notice of uploads a server stop cut short."""

from __future__ import annotations

from webapp.ui.render import escape_markdown, human_bytes, short_date

LIST_UNAVAILABLE = (
    "Your documents cannot be listed right now: the document store is not reachable. "
    "They will show again once it is back."
)


def document_rows(docs) -> list[list]:
    return [
        [
            d.file,
            d.pages if d.pages is not None else "–",
            d.chunks,
            human_bytes(d.bytes),
            short_date(d.added),
        ]
        for d in docs
    ]


def document_choices(docs) -> list[tuple[str, str]]:
    return [(f"{d.file} · {short_date(d.added)}", d.id) for d in docs]


def upload_rows(results) -> list[list]:
    return [[r.file, r.describe()] for r in results]


def chunk_rows(chunks) -> list[list]:
    return [
        [
            c.index + 1,
            f"page {c.page}" if c.page is not None else (c.section or "–"),
            f"{c.start}–{c.end}" if c.start is not None else "–",
            c.text,
        ]
        for c in chunks
    ]


def interrupted_notice(records) -> str:
    """Uploads a server stop cut short, one line each (file names escaped: untrusted)."""
    from webapp.knowledge.recovery import INTERRUPTED

    return "\n".join(
        f"- {INTERRUPTED.format(file=escape_markdown(r['file']))} ({short_date(r['when'])})"
        for r in records
    )
