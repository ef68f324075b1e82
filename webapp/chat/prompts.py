"""Prompt texts and the context budget.

The prompt is rendered with the model's own chat template. Sources are numbered in rank
order and added while they fit the token budget; the question is never dropped. Sources
widened with the text around their matched chunk (small-to-big, retrieval.window) give up
that text first, evenly, so that a wide window never pushes a source out of the prompt.
"""

from __future__ import annotations

import re

from webapp.chat.grounding import UNGROUNDED
from webapp.retrieval import window
from webapp.retrieval.retriever import Source
from webapp.text import is_chinese

# Wording chosen by measurement on the bundled 135M model: short instructions, sources
# before the question, and an answer-first request worked best (see CHANGELOG).
SYSTEM_PROMPT = (
    "Answer the question using only the numbered sources, and cite them like [1]. "
    "If the sources do not contain the answer, say so."
)
ANSWER_REQUEST = "Answer in one sentence, based on the sources."
# Evaluation asks for a short answer, which SQuAD-style exact match and F1 expect. Measured
# on 40 XQuAD questions (base + RAG, contains the gold answer): this wording 0.40, "Answer in
# a few words." 0.35, the chat's one-sentence request 0.28, "Reply with only the answer…" 0.08.
SHORT_REQUEST = "Give a short answer, based on the sources."
PLAIN_SYSTEM_PROMPT = "You are a helpful assistant. Answer briefly and clearly."
# Without sources, a base model (Generator.few_shot) is asked for the answer's form too: its
# prompt is a completion, and it has no chat training to tell it where an answer ends.
PLAIN_REQUEST = "Answer in one or two sentences."
CONDENSE_SYSTEM_PROMPT = (
    "Rewrite the last question so that it can be understood without the conversation: "
    "replace words like it, he, she, they, this and that with what they refer to. "
    "Reply with the rewritten question only."
)
NOT_FOUND = (
    "I could not find anything about this in your documents. Try other words, upload a "
    "document that covers it, or turn off “Use my documents” to ask the model alone."
)
NOT_FOUND_IN_SCOPE = (
    "I could not find anything about this in the documents you chose to search. Search all "
    "your documents (clear “Search only in”) or try other words."
)
EMPTY_KB = (
    "Your knowledge base is empty. Upload documents in the Knowledge base tab, or turn off "
    "“Use my documents” to chat with the model alone."
)

# The same in Chinese: a Chinese question gets its answer and the app's messages in Chinese.
ZH = {
    ANSWER_REQUEST: "请根据资料，用中文一句话回答。",
    PLAIN_REQUEST: "请用中文一两句话回答。",
    SHORT_REQUEST: "请根据资料，用中文简短回答。",
    NOT_FOUND: "在你的文档中没有找到相关内容。请换个说法，上传涵盖该内容的文档，"
    "或关闭“使用我的文档”直接询问模型。",
    NOT_FOUND_IN_SCOPE: "在你选择搜索的文档中没有找到相关内容。请搜索全部文档（清除“仅搜索”）或换个说法。",
    UNGROUNDED: "在你的文档中没有找到依据：模型的回答没有得到所给段落的支持。下面列出了最接近的段落。",
    EMPTY_KB: "你的知识库是空的。请在“知识库”页上传文档，或关闭“使用我的文档”直接与模型对话。",
}


# Worked examples for a base model (Generator.few_shot), in the form of rag_messages: the
# sources, a question, the answer with its citation (short, or one sentence). Made up, so
# no document's fact leaks into an answer; the answer is in the second source once, so the
# model does not learn to cite [1] always.
EXAMPLES = {
    "en": [
        (
            [
                "The Harbor Bridge opened to traffic in 1932 after eight years of work.",
                "Its main span is 503 metres long and carries eight lanes.",
            ],
            "How long is the main span of the Harbor Bridge?",
            "503 metres [2]",
            "The main span of the Harbor Bridge is 503 metres long [2].",
        ),
        (
            [
                "Marie Lindqvist founded the Nordic Seed Bank in Uppsala in 1984.",
                "The bank stores 40,000 samples of wheat and barley.",
            ],
            "Who founded the Nordic Seed Bank?",
            "Marie Lindqvist [1]",
            "The Nordic Seed Bank was founded by Marie Lindqvist [1].",
        ),
    ],
    # None for Chinese: gemma-3-270m copied the examples' answers into Chinese answers
    # ("玛丽·林德奎斯特 [1]" for a question about someone else) and answered better without
    # them (30 XQuAD-zh questions: contains 0.33 without examples, 0.13 with one, 0.07 with two).
    "zh": [],
}


def examples(question: str, request: str) -> list[dict]:
    """EXAMPLES as conversation turns, in the question's language and the request's form."""
    language = "zh" if is_chinese(question) else "en"
    turns = []
    for passages, asked, short, sentence in EXAMPLES[language]:
        blocks = "\n".join(f"[{n}] {p}" for n, p in enumerate(passages, start=1))
        body = f"Sources:\n{blocks}\n\nQuestion: {asked}\n{request}"
        answer = short if request in (SHORT_REQUEST, ZH[SHORT_REQUEST]) else sentence
        turns += [{"role": "user", "content": body}, {"role": "assistant", "content": answer}]
    return turns


def in_language(message: str, question: str) -> str:
    """`message` (a request or a message of the app's) in the question's language."""
    return ZH.get(message, message) if is_chinese(question) else message


FACT = re.compile(
    r"^\s*(who|whom|whose|when|where|which|what|how (many|much|long|old|far|big|tall|large|"
    r"often|high|deep|wide|heavy|fast)|(in|on|at|by|from|for|to) (what|which|whom)|name)\b",
    re.I,
)
EXPLAIN = re.compile(
    r"\b(why|explain|describe|discuss|elaborate|compare|contrast|differ|difference|"
    r"summari[sz]e|summary|overview|tell me|in detail|step by step|advantages?|"
    r"disadvantages?|benefits?|pros and cons|how (do|does|did|can|could|should|would|is|are|"
    r"to)|what (happens|if))\b",
    re.I,
)
DEFINITION = re.compile(r"^\s*(what|who) (is|are|was|were) (\S+\s*){1,3}\??\s*$", re.I)


def is_fact_question(question: str) -> bool:
    """A question a short span of a passage answers (who, when, how many, which…), not one
    asking for an explanation (why, how does, explain, compare, "what is LoRA?")."""
    q = question.strip()
    if len(q.split()) > 40 or EXPLAIN.search(q) or DEFINITION.match(q):
        return False
    return bool(FACT.match(q))


def source_block(number: int, source: Source) -> str:
    return f"[{number}] {' '.join(source.text.split())}"


def rag_messages(
    question: str,
    sources: list[Source],
    generator,
    budget: int,
    previous: str | None = None,
    request: str = ANSWER_REQUEST,
) -> tuple[list[dict], list[Source]]:
    """Messages with as many sources as fit in `budget` prompt tokens; returns those used."""
    question = question.strip()

    def messages(blocks: list[str]) -> list[dict]:
        asked = f"Earlier question: {previous}\n" if previous else ""
        asked += f"Question: {question}\n{request}"
        body = "Sources:\n" + "\n".join(blocks) + f"\n\n{asked}"
        shots = examples(question, request) if getattr(generator, "few_shot", False) else []
        return [
            {"role": "system", "content": SYSTEM_PROMPT},
            *shots,
            {"role": "user", "content": body},
        ]

    base = generator.prompt_tokens(messages([]))
    if base > budget:  # an enormous question: keep its end, where the ask usually is
        question = generator.truncate(question, max(budget // 2, 16), keep_end=True)
        base = generator.prompt_tokens(messages([]))
    blocks: list[str] = []
    used, spent = [], base
    for source in fit_windows(sources, generator, budget - base):
        block = source_block(len(blocks) + 1, source)
        cost = generator.count_tokens(block) + 4
        if spent + cost > budget:
            room = budget - spent - 24
            if room < 48:
                break
            block = generator.truncate(block, room) + " …"
            cost = room + 4
        blocks.append(block)
        used.append(source)
        spent += cost
    return messages(blocks), used


def block_cost(generator, number: int, source: Source) -> int:
    return generator.count_tokens(source_block(number, source)) + 4


def fit_windows(sources: list[Source], generator, room: int) -> list[Source]:
    """The sources, widened ones narrowed around their matched chunks until all fit `room`
    tokens: the widest are cut first, down to a common size (the largest that fits), so
    every source keeps its matched chunk and as much of its surroundings as the others.
    When even the matched chunks alone do not fit, they are what is left for the greedy
    cut in `rag_messages`. Sources that were not widened are never changed here."""
    if not any(s.spans for s in sources):
        return sources
    costs = [block_cost(generator, n, s) for n, s in enumerate(sources, start=1)]
    if sum(costs) <= room:
        return sources
    cores = [window.narrow(s, 0) for s in sources]
    floors = [
        block_cost(generator, n, core) if core is not source else cost
        for n, (source, core, cost) in enumerate(zip(sources, cores, costs, strict=True), 1)
    ]
    if sum(floors) >= room:
        return cores
    low, high = 0, max(costs)  # the largest per-source size at which all fit
    while low < high:
        size = (low + high + 1) // 2
        total = sum(max(f, min(c, size)) for f, c in zip(floors, costs, strict=True))
        low, high = (size, high) if total <= room else (low, size - 1)
    fitted = []
    for n, (source, cost, floor) in enumerate(zip(sources, costs, floors, strict=True), 1):
        target = max(floor, low)
        fitted.append(source if cost <= target else _narrow_to(generator, n, source, target))
    return fitted


def _narrow_to(generator, number: int, source: Source, tokens: int) -> Source:
    """The source narrowed until its block costs at most `tokens` (characters estimated
    from its tokens, then checked)."""
    chars, cost = len(source.text), block_cost(generator, number, source)
    for _ in range(8):
        chars = int(chars * min(0.97, tokens / cost))
        cut = window.narrow(source, chars)
        cost = block_cost(generator, number, cut)
        if cost <= tokens:
            return cut
    return window.narrow(source, 0)


def plain_messages(
    question: str, history: list[dict], generator, budget: int, request: str | None = None
) -> list[dict]:
    """The conversation so far (newest turns first to keep) and the question."""
    system = {"role": "system", "content": PLAIN_SYSTEM_PROMPT}
    if request is None and getattr(generator, "few_shot", False):
        request = in_language(PLAIN_REQUEST, question)
    asked = f"{question.strip()}\n{request}" if request else question.strip()
    ask = {"role": "user", "content": asked}
    turns: list[dict] = []
    for turn in reversed(history):
        candidate = [system, turn, *turns, ask]
        if generator.prompt_tokens(candidate) > budget:
            break
        turns.insert(0, turn)
    return [system, *turns, ask]


def condense_messages(history: list[dict], question: str) -> list[dict]:
    lines = [f"{t['role'].capitalize()}: {t['content'].strip()[:600]}" for t in history[-4:]]
    body = "Conversation:\n" + "\n".join(lines) + f"\n\nLast question: {question.strip()}"
    return [
        {"role": "system", "content": CONDENSE_SYSTEM_PROMPT},
        {"role": "user", "content": body},
    ]
