"""Where generation ends: the stopping criteria every answer runs under, checked between two
tokens (the Stop button or a client gone, a loop of the answer's own tokens or sentences, a
base model's stop texts), and the stream's hold-back of text that may begin a stop text.

The generator (webapp.models.generator) builds them with `criteria` and cuts the streamed
text with `until_stop`.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from transformers import StoppingCriteria, StoppingCriteriaList

from webapp.models import compute
from webapp.text import sentences, varying_loop

# A base model prompted as a completion (generator.COMPLETION_TEMPLATE) ends its answer at a
# blank line or where it starts a new question of its own.
COMPLETION_STOPS = ("\n\n", "\nQuestion:", "\nAnswer:", "\nSources:", "\nEarlier question:")


class _StopOnEvent(StoppingCriteria):
    def __init__(self, event: threading.Event):
        self.event = event

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        return self.event.is_set()


class _StopOnLoop(StoppingCriteria):
    """Ends an answer that has fallen into a loop ("B,B,B,B…", one sentence over and over):
    its last tokens are one unit of at most MAX_PERIOD tokens repeated LOOP_REPEATS times or
    more, over LOOP_TOKENS tokens at least. Only the answer's own tokens are looked at, so
    quoting a source (what RAG answers do) is never penalised, unlike a repetition penalty
    or no_repeat_ngram_size, which count the prompt's tokens too. The loop's repeats are cut
    from the text afterwards (webapp.text.trim_loop)."""

    def __init__(self, start: int):
        self.start = start

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        first = max(self.start, input_ids.shape[1] - MAX_PERIOD * LOOP_REPEATS)
        return is_loop(input_ids[0, first:].tolist())


MAX_PERIOD = 24
LOOP_REPEATS = 4
LOOP_TOKENS = 16
CHECK_EVERY = 8  # tokens between two looks at the answer's sentences (_StopOnVaryingLoop)


class _StopOnVaryingLoop(StoppingCriteria):
    """Ends an answer whose sentences loop with a word changed each time ("The first is
    Paris. The second is Paris. …", webapp.text.varying_loop), which no fixed token unit
    catches; the text is trimmed to the loop's first sentence afterwards (trim_loop)."""

    def __init__(self, tokenizer, start: int):
        self.tokenizer, self.start, self.seen = tokenizer, start, 0

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        if input_ids.shape[1] - self.seen < CHECK_EVERY:
            return False
        self.seen = input_ids.shape[1]
        answer = self.tokenizer.decode(input_ids[0, self.start :], skip_special_tokens=True)
        return varying_loop(sentences(answer)) is not None


def is_loop(ids: list[int]) -> bool:
    """Whether `ids` end in a unit repeated LOOP_REPEATS times, over LOOP_TOKENS or more."""
    n = len(ids)
    for period in range(1, MAX_PERIOD + 1):
        span = max(period * LOOP_REPEATS, LOOP_TOKENS)
        if span > n:
            break
        tail = ids[n - span :]
        if all(tail[i] == tail[i - period] for i in range(period, span)):
            return True
    return False


def stop_at(text: str, stops: tuple[str, ...]) -> int | None:
    """Where the answer in `text` ends at the first of `stops` (after its leading
    whitespace, so an answer may begin on a new line); None while none is there."""
    start = len(text) - len(text.lstrip())
    found = [i for i in (text.find(s, start) for s in stops) if i >= 0]
    return min(found) if found else None


def held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many of the last characters of `text` might begin a stop and wait for more."""
    return max((n for s in stops for n in range(1, len(s)) if text.endswith(s[:n])), default=0)


class _StopOnText(StoppingCriteria):
    """Ends an answer at a stop text (a base model's answer runs on into a new question).
    It looks at the decoded answer, so drafted tokens (prompt lookup) that carry the stop
    inside them end it too; the stream cuts the text there (`until_stop`)."""

    def __init__(self, tokenizer, start: int, stops: tuple[str, ...]):
        self.tokenizer, self.start, self.stops = tokenizer, start, stops

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        text = self.tokenizer.decode(input_ids[0, self.start :], skip_special_tokens=True)
        return stop_at(text, self.stops) is not None


class _ServePending(StoppingCriteria):
    """Called once per decode step on the compute thread: runs the model work queued
    meanwhile (another user's question to embed), so it waits one step, not a whole answer."""

    def __call__(self, input_ids, scores, **kwargs) -> bool:
        compute.serve_pending()
        return False


def criteria(
    tokenizer, start: int, stop: threading.Event, stops: tuple[str, ...]
) -> StoppingCriteriaList:
    """The criteria of one generation whose answer begins at token `start`: `stop` set, a
    loop, the queued model work served each step, and the first of `stops` (if any)."""
    found = [
        _StopOnEvent(stop),
        _StopOnLoop(start),
        _StopOnVaryingLoop(tokenizer, start),
        _ServePending(),
    ]
    if stops:
        found.append(_StopOnText(tokenizer, start, stops))
    return StoppingCriteriaList(found)


def until_stop(pieces: Iterator[str], stops: tuple[str, ...]) -> Iterator[str]:
    """The streamed pieces up to the first stop text (none: all of them). Text that may
    be the beginning of a stop waits for the next piece."""
    if not stops:
        yield from (piece for piece in pieces if piece)
        return
    text, sent = "", 0
    for piece in pieces:
        text += piece
        end = stop_at(text, stops)
        if end is not None:
            if end > sent:
                yield text[sent:end]
            return
        ready = len(text) - held_back(text, stops)
        if ready > sent:
            yield text[sent:ready]
            sent = ready
    if len(text) > sent:
        yield text[sent:]
