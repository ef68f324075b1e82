"""Small-to-big retrieval: the chunk that matched, handed to the model with the text around it.

Small chunks are found more precisely (XQuAD, hybrid search: recall@1 0.944 with 96-token
chunks against 0.925 with 200), but a 96-token chunk gives the generator little to read.
With WEBAPP_CONTEXT_WINDOW=N each source becomes about N tokens (the embedder's, as chunk
sizes are) of its document, centred on the chunk that matched: its neighbours (same
document, chunk_index ±1, ±2 …) are read in one Chroma `get` per question, by their chunk keys
(KnowledgeBase.neighbours), and joined without the overlap the splitter repeats between
them (each chunk's character offsets say where it starts). Two hits whose windows meet
become one source, so no text is handed over twice.

A widened source keeps the matched chunk's score, page, offsets and why-it-was-picked;
its `spans` say where the matched chunk (or chunks) lie in the widened text. When the
sources do not fit the prompt, `narrow` cuts a source back around its spans, never into them.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from webapp.retrieval.retriever import Source

MIN_OVERLAP = 8  # characters; a shorter repeat is not worth looking for without offsets
SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*\s+|[。！？][”」』）)]*|\n\s*")


def reach(tokens: int, chunk_size: int, overlap: int) -> int:
    """Neighbours to read on each side of a hit: enough to fill the window beside a chunk
    of half the chunk size on one side alone, as a hit at the start of a document widens
    forward only. Each neighbour adds chunk_size - overlap new tokens (at most)."""
    return max(1, math.ceil((tokens - chunk_size // 2) / max(1, chunk_size - overlap)))


def wanted(sources: Iterable[Source], each_side: int) -> dict[str, set[int]]:
    """{document id: chunk indexes} around each source's matched chunk (itself included)."""
    out: dict[str, set[int]] = {}
    for s in sources:
        if s.doc_id and s.chunk_index is not None:
            low = max(0, s.chunk_index - each_side)
            out.setdefault(s.doc_id, set()).update(range(low, s.chunk_index + each_side + 1))
    return out


@dataclass
class Strip:
    """Consecutive chunks of one document joined into one text, and where each one lies."""

    file_id: str
    text: str = ""
    at: dict[int, tuple[int, int]] = field(default_factory=dict)  # chunk index -> span
    last: object = None  # the chunk joined last

    def append(self, chunk) -> None:
        start = self._overlap_at(chunk) if self.last is not None else 0
        if start is None:  # it follows: a new page, or text the splitter dropped between
            separator = "\n\n" if chunk.part != self.last.part else " "
            start = len(self.text) + len(separator)
            self.text += separator + chunk.text
        else:
            self.text += chunk.text[len(self.text) - start :]
        self.at[chunk.index] = (start, start + len(chunk.text))
        self.last = chunk

    def _overlap_at(self, chunk) -> int | None:
        """Where `chunk` starts in the text when it repeats the end of the last one."""
        last = self.last
        if chunk.part != last.part:  # the splitter cuts each page alone: nothing repeats
            return None
        if last.start is not None and chunk.start is not None:
            at = self.at[last.index][0] + chunk.start - last.start
            if at >= len(self.text):
                return at if at == len(self.text) else None
            if at >= 0 and chunk.text.startswith(self.text[at:]):
                return at
        # Offsets missing or not matching the stored text: find the repeated part itself.
        head = chunk.text[:MIN_OVERLAP]
        at = self.text.find(head, max(0, len(self.text) - len(chunk.text)))
        while at != -1 and len(head) == MIN_OVERLAP:
            if chunk.text.startswith(self.text[at:]):
                return at
            at = self.text.find(head, at + 1)
        return None


def join(chunks: Iterable) -> dict[tuple[str, int], Strip]:
    """The chunks (KnowledgeBase.neighbours) joined into runs of consecutive chunks per
    document: (document id, chunk index) -> the strip holding that chunk."""
    by_file: dict[str, list] = {}
    for chunk in chunks:
        by_file.setdefault(chunk.file_id, []).append(chunk)
    home: dict[tuple[str, int], Strip] = {}
    for file_id, found in by_file.items():
        strip = None
        for chunk in sorted(found, key=lambda c: c.index):
            if strip is None or strip.last.index != chunk.index - 1:
                strip = Strip(file_id)
            strip.append(chunk)
            home[(file_id, chunk.index)] = strip
    return home


@dataclass
class _Window:
    source: Source
    strip: Strip
    chars: int  # the window's size in characters
    spans: list[tuple[int, int]]  # the matched chunks in the strip's text, the source's own first
    start: int = 0
    end: int = 0

    def __post_init__(self) -> None:
        self.centre()

    @property
    def core(self) -> tuple[int, int]:
        return min(s for s, _ in self.spans), max(e for _, e in self.spans)

    def centre(self) -> None:
        first, last = self.core
        self.start, self.end = around(first, last, len(self.strip.text), self.chars)

    def joins(self, other: _Window) -> bool:
        """One source rather than two: their matched chunks meet (neighbours), or their
        windows meet and both matched chunks fit in one window."""
        if self.strip is not other.strip:
            return False
        (a0, a1), (b0, b1) = sorted((self.core, other.core))
        if _meet(self.strip.text, a1, b0):
            return True
        windows = sorted(((self.start, self.end), (other.start, other.end)))
        fit = b1 - a0 <= max(self.chars, other.chars)
        return fit and _meet(self.strip.text, windows[0][1], windows[1][0])


def _meet(text: str, end: int, start: int) -> bool:
    """Does a range ending at `end` meet one starting at `start` (overlap, or white space
    alone between them)?"""
    return start <= end or not text[end:start].strip()


def widen(
    sources: list[Source], chunks: Iterable, tokens: int, count_tokens: Callable[[str], int]
) -> list[Source]:
    """Each source as about `tokens` tokens of its document centred on its matched chunk,
    from `chunks` (its neighbours). Hits whose chunks are neighbours, or fit one window
    together, become one source (the better ranked one, with the window centred on both);
    windows of other hits are cut where they would overlap, so no text is handed over
    twice. A source whose chunk is not among `chunks` (deleted meanwhile) stays as it is."""
    home = join(chunks)
    windows: list[_Window | Source] = []
    for source in sources:
        strip = home.get((source.doc_id, source.chunk_index))
        if strip is None:
            windows.append(source)
            continue
        # Tokens become characters at the matched chunk's own rate: one short count.
        chars = round(tokens * len(source.text) / max(1, count_tokens(source.text)))
        windows.append(_Window(source, strip, chars, [strip.at[source.chunk_index]]))
    kept = _joined(windows)
    _apart([w for w in kept if isinstance(w, _Window)])
    return [w if isinstance(w, Source) else _cut(w) for w in kept]


def _joined(windows: list) -> list:
    """Windows that join (see _Window.joins) as one, in rank order: the better ranked one
    takes the other in and is centred on both."""
    kept: list = []
    for window in windows:
        kept.append(window)
        while pair := next(
            (
                (a, b)
                for i, a in enumerate(kept)
                for b in kept[i + 1 :]
                if isinstance(a, _Window) and isinstance(b, _Window) and a.joins(b)
            ),
            None,
        ):
            a, b = pair
            kept.remove(b)
            a.spans += b.spans
            a.centre()
    return kept


def _apart(windows: list[_Window]) -> None:
    """Windows of one strip that still overlap are cut at a space halfway between their
    matched chunks, so that each keeps its own side."""
    by_strip: dict[int, list[_Window]] = {}
    for w in windows:
        by_strip.setdefault(id(w.strip), []).append(w)
    for group in by_strip.values():
        group.sort(key=lambda w: w.core)
        for first, second in zip(group, group[1:], strict=False):
            if second.start >= first.end:
                continue
            text, gap_start, gap_end = first.strip.text, first.core[1], second.core[0]
            middle = (gap_start + gap_end) // 2
            space = text.rfind(" ", gap_start, middle + 1)
            middle = space if space != -1 else middle
            after = middle + 1 if text[middle : middle + 1] == " " else middle
            first.end, second.start = min(first.end, middle), max(second.start, after)


def around(start: int, end: int, length: int, chars: int) -> tuple[int, int]:
    """A range of about `chars` characters of a text `length` long, centred on start:end
    (kept whole); what one side lacks at the text's edge goes to the other."""
    room = max(0, chars - (end - start))
    left, right = room // 2, room - room // 2
    if left > start:
        right, left = right + left - start, start
    if end + right > length:
        left, right = min(start, left + end + right - length), length - end
    return start - left, end + right


def _cut(window: _Window) -> Source:
    text = window.strip.text
    return _slice(window.source, text, window.start, window.end, window.spans)


def _slice(source: Source, text: str, start: int, end: int, spans) -> Source:
    """The source with about `text[start:end]` as its text and its spans moved to match.
    Its edges move inwards to a sentence boundary when one is near (within half of the
    text on that side of the matched chunks), else to a word boundary."""
    first, last = min(s for s, _ in spans), max(e for _, e in spans)
    if 0 < start < first:
        start = _sentence_start(text, start, start + (first - start) // 2)
        if not text[start - 1].isspace():  # mid-word: start at the next word
            space = text.find(" ", start, first)
            start = space + 1 if space != -1 else start
    if last < end < len(text):
        end = _sentence_end(text, end - (end - last) // 2, end)
        if end < len(text) and not text[end].isspace():
            space = text.rfind(" ", last, end)
            end = space if space != -1 else end
    while start < first and text[start].isspace():
        start += 1
    while end > last and text[end - 1].isspace():
        end -= 1
    moved = [(s - start, e - start) for s, e in spans]
    return dataclasses.replace(source, text=text[start:end], spans=moved)


def _sentence_start(text: str, start: int, limit: int) -> int:
    """The first sentence start in text[start:limit], or `start`."""
    for m in SENTENCE_END.finditer(text, max(0, start - 4), limit):
        if m.end() >= start:
            return m.end()
    return start


def _sentence_end(text: str, floor: int, end: int) -> int:
    """The end of the last sentence ending in text[floor:end], or `end`."""
    found = [m for m in SENTENCE_END.finditer(text, floor, end + 1) if m.start() < end]
    return min(found[-1].end(), end) if found else end


def narrow(source: Source, chars: int) -> Source:
    """A widened source cut to about `chars` characters around its matched spans (never
    fewer than the spans cover); other sources as they are."""
    if not source.spans:
        return source
    first = min(s for s, _ in source.spans)
    last = max(e for _, e in source.spans)
    start, end = around(first, last, len(source.text), chars)
    if (start, end) == (0, len(source.text)):
        return source
    return _slice(source, source.text, start, end, source.spans)
