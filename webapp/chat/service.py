"""The chat service: question (+ history) -> retrieval -> prompt -> streamed answer with sources.

Framework-free: the Gradio UI, the CLI and the API all call `stream` (or `ask`, built on it).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

from webapp import text
from webapp.chat import citations, evidence, grounding, prompts
from webapp.errors import InvalidOption, StoreUnavailable
from webapp.models.generator import GenerationOptions
from webapp.retrieval import window
from webapp.retrieval.retriever import Scope, Source

# Accepted ranges, shared by the UI sliders and the API checks.
LIMITS = {"top_k": (1, 10), "temperature": (0.0, 1.5), "max_new_tokens": (1, 1024)}


@dataclass
class ChatOptions:
    use_rag: bool = True
    top_k: int = 4
    temperature: float = 0.0
    max_new_tokens: int = 256
    adapter: str | None = None  # None: the base model
    short: bool = False  # the answer alone (evaluation), not a sentence with citations
    documents: tuple[str, ...] = ()  # search only these document ids (empty: all)
    file_types: tuple[str, ...] = ()  # only these kinds (the kinds in knowledge.formats.FORMATS)
    # The shipped reader: auto (fact questions with RAG), off (the base model), on (always,
    # even without RAG: the "reader alone" of an evaluation).
    reader: Literal["auto", "off", "on"] = "auto"

    @property
    def scope(self) -> Scope:
        return Scope(tuple(self.documents or ()), tuple(self.file_types or ()))

    def checked(self) -> ChatOptions:
        """Raises InvalidOption with plain words when a value is out of range."""
        for name, (low, high) in LIMITS.items():
            value = getattr(self, name)
            if not isinstance(value, int | float) or not low <= value <= high:
                raise InvalidOption(f"{name} must be between {low:g} and {high:g}.")
        return self


@dataclass
class Answer:
    """An answer as it grows; `sources` are the passages the prompt numbered [1], [2]…"""

    question: str
    answer: str = ""
    sources: list[Source] = field(default_factory=list)
    rag: bool = True
    adapter: str | None = None
    search_query: str = ""
    done: bool = False
    grounded: bool | None = None  # None: no sources to check against (model alone, not found)
    model: str = ""  # the base model that answered
    reader: bool = False  # the shipped reader adapter answered (a fact question, with RAG)
    # Per source (its index in `sources`): the sentences that support the answer, as
    # character offsets of the source's text (evidence.snap).
    evidence: dict[int, list[tuple[int, int]]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The answer for the API and `ask --json`. Until it is done, each source's text is
        its first PREVIEW_CHARS characters: a stream that repeats every snapshot whole (the
        REST route; the queue protocol sends only what changed) then costs kilobytes per
        question, not the sources' text once per token. The last snapshot has it all."""
        return {
            "answer": self.answer,
            "sources": [
                source_dict(s, None if self.done else PREVIEW_CHARS, self.evidence.get(i))
                for i, s in enumerate(self.sources)
            ],
            "rag": self.rag,
            "adapter": self.adapter,
            "model": self.model,
            "reader": "shipped" if self.reader else None,
            "grounded": self.grounded,
        }


PREVIEW_CHARS = 200


def source_dict(
    source: Source, text_chars: int | None = None, supports: list | None = None
) -> dict:
    """A source for the API and `ask --json`: where it is from, its text, the numbers the
    UI's "why it was picked" shows (null where a stage did not run or did not find it),
    where in `text` the matched chunk lies (with small-to-big, `text` holds the text around
    it too), and `evidence`: where in `text` the sentences supporting the answer lie."""
    r = source.retrieval or {}
    keyword = r.get("keyword_rank") is not None
    return {
        "file": source.file,
        "page": source.page,
        "score": source.score,
        "text": source.text if text_chars is None else source.text[:text_chars],
        "dense_score": r.get("dense", source.score if not r else None),
        "dense_rank": r.get("dense_rank"),
        "bm25_score": r.get("keyword") if keyword else None,
        "bm25_rank": r.get("keyword_rank"),
        "keyword_match": r.get("match"),
        "fused_rank": r.get("fused_rank"),
        "rerank_score": r.get("rerank"),
        "matched_spans": [list(span) for span in source.matched_spans],
        "evidence": [list(span) for span in supports or []],
    }


FOLLOW_UP = re.compile(
    r"^(and|but|also|so|what about|how about|then)\b|\b(it|its|it's|he|she|him|her|his|hers|"
    r"they|them|their|this|that|these|those|there|the same|one|ones)\b",
    re.IGNORECASE,
)


PREAMBLE = re.compile(
    r"^\s*(the\s+)?answer(\s+to\s+(the|this|your)\s+question)?\s*(is)?\s*:\s*", re.I
)


def strip_preamble(text: str) -> str:
    """Drop a leading "The answer is:" that small models like to add; keep the rest."""
    stripped = PREAMBLE.sub("", text.strip(), count=1)
    return stripped[:1].upper() + stripped[1:] if stripped else text.strip()


def is_follow_up(question: str) -> bool:
    """Does the question lean on an earlier turn (a pronoun, a leading 'and', very short)?"""
    q = question.strip()
    return bool(FOLLOW_UP.search(q)) or len(q.split()) <= 3


class ChatService:
    def __init__(self, generator, knowledge, retriever_factory, settings, adapters, reader=None):
        self.reader = reader  # the shipped reader (adapters.raft.shipped) or None
        self.generator = generator
        self.knowledge = knowledge
        self.retriever_factory = retriever_factory
        self.settings = settings
        self.adapters = adapters

    def ask(
        self,
        owner: str,
        question: str,
        history: list[dict] | None = None,
        options: ChatOptions | None = None,
    ) -> Answer:
        *_, final = self.stream(owner, question, history or [], options or ChatOptions())
        return final

    def stream(
        self,
        owner: str,
        question: str,
        history: list[dict],
        options: ChatOptions,
        stop: threading.Event | None = None,
    ) -> Iterator[Answer]:
        """Yield the same Answer as it grows: sources first, then the text token by token."""
        answer = Answer(question=question, rag=options.use_rag, adapter=options.adapter or None)
        answer.model = getattr(self.generator, "name", "")
        if getattr(self.generator, "remote", False):  # adapters are the server's, by name
            adapter = options.adapter or None
        else:
            adapter = self.adapters.get(owner, options.adapter) if options.adapter else None
        if adapter is None and self.uses_reader(question, options):
            adapter, answer.reader = self.reader, True
        gen_options = GenerationOptions(options.max_new_tokens, options.temperature)
        budget = self._prompt_budget(options.max_new_tokens)
        if options.use_rag:
            if self.knowledge.count_chunks(owner) == 0:
                yield from self._final(answer, prompts.in_language(prompts.EMPTY_KB, question))
                return
            answer.search_query, previous = self.condense(history, question)
            found = self.retrieve(owner, answer.search_query, options.top_k, options.scope)
            if not found:
                message = prompts.NOT_FOUND_IN_SCOPE if options.scope else prompts.NOT_FOUND
                yield from self._final(answer, prompts.in_language(message, question))
                return
            found = self.widen(owner, found)
            short = options.short or answer.reader
            request = prompts.SHORT_REQUEST if short else prompts.ANSWER_REQUEST
            request = prompts.in_language(request, question)
            messages, answer.sources = prompts.rag_messages(
                question, found, self.generator, budget, previous=previous, request=request
            )
        else:
            request = prompts.SHORT_REQUEST if options.short or answer.reader else None
            request = prompts.in_language(request, question) if request else None
            messages = prompts.plain_messages(question, history, self.generator, budget, request)
        yield answer
        for piece in self.generator.stream(messages, gen_options, stop, adapter=adapter):
            answer.answer += piece
            yield answer
        answer.answer = text.trim_loop(strip_preamble(answer.answer))
        if answer.sources:
            texts = [s.text for s in answer.sources]
            answer.answer = citations.add_missing_citations(answer.answer, texts)
            answer.answer = citations.repair_citations(answer.answer, texts)
            snapped = evidence.snap(answer.answer, texts)
            answer.answer, answer.evidence = snapped.answer, snapped.evidence
            if not grounding.is_abstention(answer.answer):
                check = grounding.check(answer.answer, question, texts)
                answer.grounded = check.grounded
                if not check.grounded and self.settings.require_grounding:
                    answer.answer = prompts.in_language(grounding.UNGROUNDED, question)
        answer.done = True
        yield answer

    def uses_reader(self, question: str, options: ChatOptions) -> bool:
        """The shipped reader answers fact questions over the documents when no adapter is
        chosen; explanations ("why…", "how does…") keep the base model's sentences."""
        if self.reader is None or options.adapter or options.reader == "off":
            return False
        if options.reader == "on":
            return True
        return options.use_rag and (options.short or prompts.is_fact_question(question))

    def retrieve(
        self, owner: str, query: str, top_k: int, scope: Scope | None = None
    ) -> list[Source]:
        from webapp.retrieval.retriever import to_source

        try:
            retriever = self.retriever_factory(owner, top_k, scope=scope)
            results = [to_source(r) for r in retriever.retrieve(query)]
        except Exception as exc:  # a Chroma server that is down or refuses the token
            from webapp.knowledge.store import store_failure

            if (message := store_failure(exc)) is None:
                raise
            raise StoreUnavailable(message) from exc
        if not results:
            return []
        # Weak passages far below the best one confuse a small reader more than they help;
        # a passage holding most of the question's words is kept whatever its dense score.
        best = max(s.score for s in results)
        floor = max(self.settings.min_score, best - self.settings.score_margin)

        def relevant(s: Source) -> bool:
            match = (s.retrieval or {}).get("match", 0.0)
            keyword_hit = (s.retrieval or {}).get("keyword_rank") is not None
            return s.score >= floor or (keyword_hit and match >= self.settings.keyword_match)

        return [s for s in results if relevant(s)]

    def widen(self, owner: str, sources: list[Source]) -> list[Source]:
        """Small-to-big (WEBAPP_CONTEXT_WINDOW): each source widened with the text around its
        matched chunk, read from the same document in one request (retrieval.window)."""
        tokens = self.settings.context_window
        if not tokens or not sources:
            return sources
        each_side = window.reach(tokens, self.settings.chunk_size, self.knowledge.chunk_overlap)
        chunks = self.knowledge.neighbours(owner, window.wanted(sources, each_side))
        counter = self.knowledge.token_counter
        return window.widen(sources, chunks, tokens, lambda text: len(counter(text)))

    def condense(self, history: list[dict], question: str) -> tuple[str, str | None]:
        """The search query for a question, and the earlier question it follows up, if any.

        A follow-up ("and how tall is it?") is searched together with the previous question,
        which names its subject. Rewriting it with the model (WEBAPP_CONDENSE_WITH_LLM) suits
        stronger models only: measured here, SmolLM2-135M invents subjects instead.
        """
        previous = next(
            (t["content"].strip() for t in reversed(history) if t.get("role") == "user"), None
        )
        if not previous or not is_follow_up(question):
            return question, None
        if self.settings.condense_with_llm:
            rewritten = self.generator.complete(
                prompts.condense_messages(history, question),
                GenerationOptions(max_new_tokens=64, temperature=0.0),
            ).strip()
            if rewritten and len(rewritten) < 4 * len(question) + 200:
                return rewritten.splitlines()[0], previous
        return f"{previous} {question}", previous

    def _prompt_budget(self, max_new_tokens: int) -> int:
        limit = min(self.settings.context_tokens, self.generator.context_window)
        return max(limit - max_new_tokens, 128)

    @staticmethod
    def _final(answer: Answer, text: str) -> Iterator[Answer]:
        answer.answer, answer.done = text, True
        answer.reader = False  # a message of the app's, not the reader's answer
        yield answer
