"""Candidate questions from the user's own documents, for a question set the user then edits.

Extractive by default: a sentence that holds a date, a number with its unit, or a name becomes
a question by putting a question phrase where that span was ("The tower was completed in 1889."
→ "The tower was completed in what year?"), and the span is the gold answer, with the sentence's
file and page as its source. No model is needed, so it works on the bundled 135M model, and
every answer is guaranteed to be in the documents. With a stronger generator configured,
`method="model"` asks the model to write the pairs instead; answers that do not occur in the
passage are dropped.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from webapp.adapters.datasets import QAItem
from webapp.errors import DatasetError
from webapp.text import ZH_SENTENCE_END, has_cjk, is_chinese

MONTHS = (
    "January|February|March|April|May|June|July|August|September|October|November|December|"
    "Jan|Feb|Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec"
)
DATE = re.compile(
    rf"\b(?:on\s+)?(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:{MONTHS})\.?,?\s+\d{{4}}|"
    rf"(?:{MONTHS})\.?\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}})\b"
)
YEAR = re.compile(
    r"\b(?:(in|since|by|until|from|during)\s+)?(?<![–-])((?:1[5-9]|20)\d{2})\b"
    r"(?![–-]\d|\s*(?:%|percent))"
)
QUANTITY = re.compile(
    r"(?<![\w.–-])(?P<num>(?:(?:US)?\$|€|£)?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?"
    r"(?:\s*(?:million|billion|thousand|hundred))?)(?![\w–-])"
    r"(?:\s*(?P<unit>%|percent|per cent|[a-zA-Zµ°][a-zA-Z²³/]+))?"
)
_WORD = r"(?:(?:[A-Z]['’])?[A-Z][a-z]+(?:-[A-Z][a-z]+)*|[A-Z]{2,})"
NAME = re.compile(rf"\b{_WORD}(?:\s+(?:(?:of|de|van|and|&)\s+)?{_WORD})*(?!['’]s)\b")
# A sentence ends at . ! ? before a capital, but not after an initial ("William E. Simon")
# or a common abbreviation.
SENTENCE = re.compile(
    r"(?<=[.!?])(?<!\b[A-Z]\.)(?<!\b(?:Mr|Ms|Dr|St|Jr|Sr|vs)\.)(?<!\bMrs\.)(?<!\bNo\.)"
    r"\s+(?=[A-Z\"“(])"
)
PRONOUN_START = re.compile(
    r"^(it|its|they|their|them|he|she|his|her|this|these|that|those|there|such|both|"
    r"here|which|we|our|you|i)\b",
    re.I,
)
CONNECTOR = re.compile(
    r"^(however|moreover|furthermore|in addition|also|thus|therefore|meanwhile|"
    r"additionally|finally|then)\s*,\s*",
    re.I,
)
UNIT_STOPWORDS = set(
    "and or of to in on at by for the a an is was were are be been has have had will would can "
    "could may might should must than that which who with from as per into over under".split()
)
NOT_NAMES = {"The", "A", "An", "In", "On", "At", "For", "But", "And", "Or", "If", "When", "As"}
PERSON_VERBS = set(
    "said says wrote writes founded won died led leads became married invented discovered "
    "painted composed directed argued believed claimed studied was is has had joined left "
    "served worked created designed built proposed announced published".split()
)
MIN_WORDS, MAX_WORDS = 6, 30
# Chinese: a year (2021年), a date (2021年3月5日), or a quantity with its unit or measure
# word (412米, 35%, 3.5亿, 12个); the question puts 哪一年 / 哪一天 / 多少 in its place.
ZH_DATE = re.compile(r"(?<!\d)(?:1[5-9]|20)\d{2}年\d{1,2}月(?:\d{1,2}日)?")
ZH_YEAR = re.compile(r"(?<!\d)(?:1[5-9]|20)\d{2}年(?!\d|代)")
ZH_QUANTITY = re.compile(
    r"(?<![\d.])\d+(?:\.\d+)?(?P<unit>(?:%|％)|(?:万|亿|千|百)?"
    r"(?:个|名|人|次|年|天|米|千米|公里|公斤|吨|元|美元|岁|倍|种|家|所|座|部|位|项|篇|页)?)"
)
ZH_MIN_CHARS, ZH_MAX_CHARS = 8, 80


@dataclass
class Span:
    start: int
    end: int
    answer: str
    phrase: str  # what replaces the span in the question


def sentences(text: str) -> list[str]:
    flat = " ".join(text.split())
    parts = SENTENCE.split(flat)
    if has_cjk(flat):  # Chinese sentences end at 。！？ with no space or capital after
        parts = [s for part in parts for s in ZH_SENTENCE_END.split(part)]
    return [s.strip() for s in parts if s.strip()]


def find_span(sentence: str) -> Span | None:
    """The best answer span of a sentence: a date, then a quantity, then a name."""
    if m := DATE.search(sentence):
        on = m.group(0).lower().startswith("on ")
        answer = m.group(0)[3:].strip() if on else m.group(0).strip()
        return Span(m.start(), m.end(), answer, "on what date" if on else "what date")
    if m := YEAR.search(sentence):
        prep = m.group(1)
        phrase = f"{prep.lower()} what year" if prep else "what year"
        return Span(m.start(), m.end(), m.group(2), phrase)
    for m in QUANTITY.finditer(sentence):
        value, unit = m.group("num").strip(), (m.group("unit") or "").strip()
        if unit.lower() in UNIT_STOPWORDS:
            unit = ""
        if len(value) == 1 and not unit:
            continue  # "1" alone is usually a list marker or a section number
        if unit.lower() in ("%", "percent", "per cent"):
            phrase = "what percentage"
        elif value[:1] in "$€£" or value.startswith("US$"):
            phrase = "how much money"
        elif unit:
            phrase = f"how many {unit}"
        else:
            phrase = "what number" if "." in value else "how many"
        end = m.end("unit") if unit else m.end("num")
        answer = sentence[m.start() : end].strip()
        return Span(m.start(), end, answer, phrase)
    for m in NAME.finditer(sentence):
        words = m.group(0).split()
        if m.start() == 0:
            while words and words[0] in NOT_NAMES:
                words = words[1:]
            if len(words) < 2:
                continue  # one capitalised word at the start is just the sentence's start
            start = m.start() + m.group(0).index(words[0])
        else:
            start = m.start()
        answer = " ".join(words)
        before = sentence[:start].rstrip().lower()
        after = sentence[start + len(answer) :]
        if after[:1] in ("–", "-") or sentence[start - 1 : start] in ("–", "-"):
            continue  # part of a compound ("San Diego–Tijuana")
        if start == 0:
            verb = after.split()[0].lower() if after.split() else ""
            phrase = "Who" if verb in PERSON_VERBS else "What"
        elif before.endswith(" by") or before.endswith(" with"):
            phrase = "whom"
        else:
            phrase = "what"
            if before == "the" or before.endswith(" the"):  # "the what" reads badly
                start = len(before) - 3
        if start == 0 and phrase == "what":
            phrase = "What"
        end = m.start() + m.group(0).index(words[0]) + len(answer)
        return Span(start, end, answer, phrase)
    return None


def chinese_question_from(sentence: str) -> tuple[str, str] | None:
    """A Chinese sentence's question: its date, year or quantity replaced by 哪一天 / 哪一年 /
    多少 ("低秩适配于2021年提出。" -> "低秩适配于哪一年提出？", "2021年")."""
    sentence = sentence.strip()
    if not ZH_MIN_CHARS <= len(sentence) <= ZH_MAX_CHARS or not sentence.endswith(("。", "！")):
        return None
    if sentence.startswith(("它", "他", "她", "这", "那", "其", "此")):
        return None  # its subject is in an earlier sentence
    for pattern, phrase in ((ZH_DATE, "哪一天"), (ZH_YEAR, "哪一年"), (ZH_QUANTITY, "多少")):
        for m in pattern.finditer(sentence):
            answer = m.group(0)
            if phrase == "多少":
                unit = m.group("unit")
                if len(answer) == 1:
                    continue  # one digit alone: a list marker, a section number
                phrase = "百分之多少" if unit in ("%", "％") else f"多少{unit}"
            question = sentence[: m.start()] + phrase + sentence[m.end() :]
            return question.rstrip("。！") + "？", answer
    return None


def question_from(sentence: str) -> tuple[str, str] | None:
    """(question, answer) for one sentence, or None when it makes no good question."""
    if is_chinese(sentence):
        return chinese_question_from(sentence)
    sentence = CONNECTOR.sub("", sentence).strip()
    words = sentence.split()
    if not MIN_WORDS <= len(words) <= MAX_WORDS or PRONOUN_START.match(sentence):
        return None
    if not sentence.endswith((".", "!")) or sentence.count('"') % 2 or "?" in sentence:
        return None
    span = find_span(sentence)
    if span is None or not span.answer or len(span.answer) > 60:
        return None
    question = sentence[: span.start] + span.phrase + sentence[span.end :]
    question = question.rstrip(" .!;:") + "?"
    question = question[:1].upper() + question[1:]
    if len(question.split()) < 5 or span.answer.lower() in question.lower():
        return None
    return question, span.answer


def from_documents(
    knowledge,
    owner: str,
    per_document: int = 10,
    progress: Callable[[float, str], None] | None = None,
    files: set[str] | None = None,
) -> list[QAItem]:
    """Up to `per_document` questions from each document (or each of `files`), spread over
    its length."""
    docs = [d for d in knowledge.list_documents(owner) if files is None or d.file in files]
    if not docs:
        raise DatasetError("Your knowledge base is empty: upload documents first.")
    items: list[QAItem] = []
    for n, doc in enumerate(sorted(docs, key=lambda d: d.file)):
        if progress:
            progress(n / len(docs), doc.file)
        found = list(_candidates(knowledge.chunks(owner, doc.id)))
        items += [
            QAItem(question=q, answer=a, source=doc.file, page=page)
            for q, a, page in _spread(found, per_document)
        ]
    if not items:
        raise DatasetError(
            "No questions could be made: the documents have no sentences with dates, numbers "
            "or names. Upload a question set instead."
        )
    return items


def _candidates(chunks) -> Iterator[tuple[str, str, int | None]]:
    seen: set[str] = set()
    for chunk in chunks:
        for sentence in sentences(chunk.text):
            made = question_from(sentence)
            if made and made[0] not in seen:
                seen.add(made[0])
                yield made[0], made[1], chunk.page


def _spread(found: list, limit: int) -> list:
    if len(found) <= limit:
        return found
    step = len(found) / limit
    return [found[int(i * step)] for i in range(limit)]


MODEL_PROMPT = (
    "Write one question that this passage answers, and its answer copied from the passage "
    "(a few words). Reply exactly as:\nQ: <question>\nA: <answer>\n\nPassage: {passage}"
)


def from_documents_with_model(
    knowledge, owner: str, generator, per_document: int = 5, progress=None
) -> list[QAItem]:
    """Model-written pairs (for a stronger configured generator); answers must be extractive."""
    from webapp.models.generator import GenerationOptions

    items: list[QAItem] = []
    docs = sorted(knowledge.list_documents(owner), key=lambda d: d.file)
    if not docs:
        raise DatasetError("Your knowledge base is empty: upload documents first.")
    for n, doc in enumerate(docs):
        if progress:
            progress(n / len(docs), doc.file)
        for chunk in _spread(knowledge.chunks(owner, doc.id), per_document):
            reply = generator.complete(
                [{"role": "user", "content": MODEL_PROMPT.format(passage=chunk.text)}],
                GenerationOptions(max_new_tokens=80, temperature=0.0),
            )
            q = re.search(r"Q:\s*(.+)", reply)
            a = re.search(r"A:\s*(.+)", reply)
            if q and a and a.group(1).strip().lower() in " ".join(chunk.text.split()).lower():
                items.append(QAItem(q.group(1).strip(), a.group(1).strip(), doc.file, chunk.page))
    return items
