"""What the Knowledge base tab shows: the document list and its choices, an upload's
results, a document's chunks, and the notice of uploads a server stop cut short, each in
the visitor's language (`lang`, webapp.ui.i18n)."""

from __future__ import annotations

from webapp.ui.i18n import say
from webapp.ui.render import escape_markdown, human_bytes, short_date, table

DOC_COLUMNS = ["col_file", "col_pages", "col_chunks", "col_size", "col_added"]
RESULT_COLUMNS = ["col_file", "col_result"]
CHUNK_COLUMNS = ["col_number", "col_where", "col_characters", "col_text"]


def document_table(docs, lang: str) -> dict:
    rows = [
        [
            d.file,
            d.pages if d.pages is not None else "–",
            d.chunks,
            human_bytes(d.bytes),
            short_date(d.added),
        ]
        for d in docs
    ]
    return table(lang, DOC_COLUMNS, rows)


def document_choices(docs) -> list[tuple[str, str]]:
    return [(f"{d.file} · {short_date(d.added)}", d.id) for d in docs]


def upload_table(results, lang: str) -> dict:
    return table(lang, RESULT_COLUMNS, [[r.file, upload_result(r, lang)] for r in results])


def upload_result(result, lang: str) -> str:
    """One file's result in plain words (the domain's message, when there is one, as is)."""
    if result.status in ("indexed", "replaced"):
        one = "_1" if result.chunks == 1 else ""  # "1 chunk", "2 chunks"
        return say(lang, f"result_{result.status}{one}", n=result.chunks)
    if result.status == "unchanged":
        return say(lang, "result_unchanged", why=result.message)
    return say(lang, "result_failed", why=result.message)


def chunk_table(chunks, lang: str) -> dict:
    rows = [
        [
            c.index + 1,
            say(lang, "chunk_page", page=c.page) if c.page is not None else (c.section or "–"),
            f"{c.start}–{c.end}" if c.start is not None else "–",
            c.text,
        ]
        for c in chunks
    ]
    return table(lang, CHUNK_COLUMNS, rows)


def interrupted_notice(records, lang: str = "en") -> str:
    """Uploads a server stop cut short, one line each (file names escaped: untrusted)."""
    return "\n".join(
        f"- {say(lang, 'upload_interrupted', file=escape_markdown(r['file']))} "
        f"({short_date(r['when'])})"
        for r in records
    )
