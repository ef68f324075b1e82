"""Turning answers, sources and document rows into safe display text.

Document text and file names are untrusted: they are escaped so Markdown or HTML inside a
document can neither run script nor make the browser fetch a remote image. Model output keeps
simple Markdown (lists, bold) but loses images and raw HTML.
"""

from __future__ import annotations

import html
import re

from webapp.retrieval.retriever import Source

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|>~<])")


def escape_markdown(text: str) -> str:
    """Untrusted text shown as itself. Escapes do not work inside a bare URL, which the
    renderer turns into a link (showing the escapes' backslashes), so "://" is written as an
    entity: the URL reads the same but is neither a link nor fetched."""
    escaped = _MD_SPECIAL.sub(r"\\\1", html.escape(text, quote=False))
    return escaped.replace("://", "&#58;//")


def safe_answer(text: str) -> str:
    text = html.escape(text, quote=False)
    return text.replace("![", "!\\[")  # no remote images from model output


def sources_markdown(sources: list[Source]) -> str:
    parts = []
    for n, s in enumerate(sources, start=1):
        where = escape_markdown(s.where)
        passage = escape_markdown(" ".join(s.text.split()))
        if len(passage) > 900:
            passage = passage[:900] + " …"
        parts.append(f"**[{n}] {where}** · {why_picked(s)}\n\n> {passage}")
    return "\n\n".join(parts)


def why_picked(source: Source) -> str:
    """Why a passage was chosen, in plain words and in the order the search worked: its
    meaning (dense) score, its keyword (BM25) score and share of the question's words, each
    with its place in that list, where fusing the two lists put it, and the reranker's
    score when one ran. E.g. "meaning 0.21 (#3) · keywords BM25 7.1 (#1, 100% of the
    question's words) · fused #1"."""
    r = source.retrieval
    if not r:
        return f"score {source.score:.2f}"
    parts = [f"meaning {r['dense']:.2f}" + _place(r.get("dense_rank"))]
    if r.get("keyword_rank"):
        parts.append(
            f"keywords BM25 {r['keyword']:.1f} "
            f"(#{r['keyword_rank']}, {r['match']:.0%} of the question's words)"
        )
    if r.get("mode", "hybrid") == "hybrid" and r.get("fused_rank"):
        parts.append(f"fused #{r['fused_rank']}")  # a single list's own rank says it already
    if "rerank" in r:
        parts.append(f"reranker {r['rerank']:.2f}")
    return " · ".join(parts)


def _place(rank: int | None) -> str:
    return f" (#{rank})" if rank else ""


def human_bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"


def short_date(iso: str) -> str:
    return iso.replace("T", " ")[:16]
