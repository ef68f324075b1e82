"""Turning answers, sources and document rows into safe display text.

Document text and file names are untrusted: they are escaped so Markdown or HTML inside a
document can neither run script nor make the browser fetch a remote image. Model output keeps
simple Markdown (lists, bold) but loses images and raw HTML.
"""

from __future__ import annotations

import html
import re

from webapp.retrieval.retriever import Source
from webapp.ui.i18n import say

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


def sources_markdown(sources: list[Source], evidence: dict | None = None, lang: str = "en") -> str:
    """The numbered passages; `evidence` {source index: spans} is highlighted in them."""
    parts = []
    for n, s in enumerate(sources, start=1):
        where = escape_markdown(s.where)
        shown = passage_markdown(s, (evidence or {}).get(n - 1))
        parts.append(f"**[{n}] {where}** · {why_picked(s, lang)}\n\n> {shown}")
    return "\n\n".join(parts)


def passage_markdown(source: Source, evidence: list | None = None) -> str:
    """The passage as the model read it. A source widened with the text around its matched
    chunk (small-to-big) shows the matched part in bold; the sentences supporting the
    answer (`evidence`, offsets in its text) are highlighted; a long passage is cut around
    the evidence, else around the matched part."""
    text = source.text
    bold = _union(source.spans, text) if source.spans else []
    if bold == [(0, len(text))]:
        bold = []
    marks = _union(evidence or [], text)
    if not bold and not marks:
        passage = escape_markdown(" ".join(text.split()))
        return passage[:PASSAGE_CHARS] + " …" if len(passage) > PASSAGE_CHARS else passage
    from webapp.retrieval.window import around

    focus = marks or bold
    start, end = around(focus[0][0], focus[-1][1], len(text), PASSAGE_CHARS)
    cuts = sorted({start, end, *(x for span in bold + marks for x in span if start < x < end)})
    out = []
    for a, b in zip(cuts, cuts[1:], strict=False):
        piece = text[a:b]
        styled = _bold(piece) if any(s <= a and b <= e for s, e in bold) else _plain(piece)
        if any(s <= a and b <= e for s, e in marks) and piece.strip():
            styled = f"<mark>{styled.strip()}</mark>"
            styled = (" " if piece[:1].isspace() else "") + styled
            styled += " " if piece[-1:].isspace() else ""
        out.append(styled)
    passage = "".join(out).strip()
    return ("… " if start > 0 else "") + passage + (" …" if end < len(text) else "")


def evidence_line(answer_sources: list[Source], evidence: dict) -> str:
    """The first supporting sentence, quoted under the answer with its source number."""
    for index, spans in sorted((evidence or {}).items()):
        if spans and index < len(answer_sources):
            start, end = spans[0]
            sentence = " ".join(answer_sources[index].text[start:end].split())
            if len(sentence) > 300:
                sentence = sentence[:300].rsplit(" ", 1)[0] + " …"
            return f"[{index + 1}] “{escape_markdown(sentence)}”"
    return ""


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


def why_picked(source: Source, lang: str = "en") -> str:
    """Why a passage was chosen, in plain words and in the order the search worked: its
    meaning (dense) score, its keyword (BM25) score and share of the question's words, each
    with its place in that list, where fusing the two lists put it, and the reranker's
    score when one ran. E.g. "meaning 0.21 (#3) · keywords BM25 7.1 (#1, 100% of the
    question's words) · fused #1"."""
    r = source.retrieval
    if not r:
        return say(lang, "why_score", score=f"{source.score:.2f}")
    parts = [say(lang, "why_meaning", score=f"{r['dense']:.2f}") + _place(r.get("dense_rank"))]
    if r.get("keyword_rank"):
        share = f"{r['match']:.0%}"
        keyword = f"{r['keyword']:.1f}"
        parts.append(say(lang, "why_keywords", score=keyword, rank=r["keyword_rank"], share=share))
    if r.get("mode", "hybrid") == "hybrid" and r.get("fused_rank"):
        # a single list's own rank says it already
        parts.append(say(lang, "why_fused", rank=r["fused_rank"]))
    if "rerank" in r:
        parts.append(say(lang, "why_reranker", score=f"{r['rerank']:.2f}"))
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


def table(lang: str, columns: list[str], rows: list[list]) -> dict:
    """A Dataframe's value with its column headers in `lang` (`columns`: their keys in
    webapp.ui.i18n). Gradio's page translates no headers, and a value's own headers win
    over the component's, so each handler sends them with the rows."""
    return {"headers": [say(lang, key) for key in columns], "data": rows}
