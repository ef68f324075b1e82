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


PASSAGE_CHARS = 900


def sources_markdown(sources: list[Source]) -> str:
    parts = []
    for n, s in enumerate(sources, start=1):
        where = escape_markdown(s.where)
        parts.append(f"**[{n}] {where}** · {why_picked(s)}\n\n> {passage_markdown(s)}")
    return "\n\n".join(parts)


def passage_markdown(source: Source) -> str:
    """The passage as the model read it. A source widened with the text around its matched
    chunk (small-to-big) shows the matched part in bold, and a long one is cut around it."""
    if not source.spans or _union(source.spans, source.text) == [(0, len(source.text))]:
        passage = escape_markdown(" ".join(source.text.split()))
        return passage[:PASSAGE_CHARS] + " …" if len(passage) > PASSAGE_CHARS else passage
    from webapp.retrieval.window import narrow

    shown = narrow(source, PASSAGE_CHARS)
    text, out, at = shown.text, [], 0
    for start, end in _union(shown.spans, text):
        out += [_plain(text[at:start]), _bold(text[start:end])]
        at = end
    out.append(_plain(text[at:]))
    passage = "".join(out).strip()
    cut_before, cut_after = not source.text.startswith(text), not source.text.endswith(text)
    return ("… " if cut_before else "") + passage + (" …" if cut_after else "")


def _union(spans, text: str) -> list[tuple[int, int]]:
    """Spans that overlap or are apart by white space only, as one (joined hits overlap)."""
    out: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if out and (start <= out[-1][1] or not text[out[-1][1] : start].strip()):
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _plain(text: str) -> str:
    return escape_markdown(re.sub(r"\s+", " ", text))


def _bold(text: str) -> str:
    """Bold needs no white space just inside its stars: it goes outside."""
    inner = text.strip()
    if not inner:
        return _plain(text)
    before = " " if text[:1].isspace() else ""
    after = " " if text[-1:].isspace() else ""
    return f"{before}**{escape_markdown(' '.join(inner.split()))}**{after}"


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
