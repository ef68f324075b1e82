"""Words and sentences of any text, Chinese as well as English: the one place that says how.

Chinese writes no spaces between words, so a regex word (`\\w+`) over Chinese text is a whole
clause, and a Chinese question shares no "word" with the passage that answers it. Here runs of
CJK ideographs are segmented by jieba (its dictionary ships in the wheel); everything else
keeps the English path: lowercased `\\w\\w+` words, English stop words out, Snowball-stemmed,
exactly as bm25s tokenized before, so English scores do not move. Mixed text ("LoRA 的秩")
takes each path for its own part.

- `search_terms`: the keyword index's terms (BM25, the keyword-match share);
- `words`, `content_words`: what citations, snapping and the grounding check compare;
- `key_words`: stemmed content words (the share of a question's words a passage holds);
- `sentences`: sentence splitting at . ! ? and at Chinese 。！？ (which need no space after);
- `is_chinese`: whether a text is mostly Chinese (the answer's language follows it).

jieba's dictionary loads once per process (about 1 s, on first use).
"""

from __future__ import annotations

import functools
import logging
import re
import threading

# CJK Unified Ideographs (and extension A, compatibility ideographs).
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_CJK_RUN = re.compile(f"[{CJK}]+")
_ENGLISH_TERM = re.compile(r"(?u)\b\w\w+\b")  # bm25s's token pattern
_WORD = re.compile(r"[^\W_]+", re.UNICODE)
CLOSERS = "”」』）)"  # closing quotes and brackets that may follow a Chinese sentence end
# A Chinese sentence ends right after 。！？ (or the closing quote after one), no space needed;
# any sentence also at . ! ? followed by white space.
ZH_SENTENCE_END = re.compile(rf"(?<=[。！？])(?![{CLOSERS}。！？])\s*|(?<=[。！？][{CLOSERS}])\s*")
SENTENCE_END = re.compile(rf"(?<=[.!?])\s+|{ZH_SENTENCE_END.pattern}")
ZH_QUESTION_WORDS = frozenset(
    "什么 哪 哪个 哪些 哪里 哪儿 谁 如何 怎么 怎样 为什么 为何 多少 几 吗 呢 吧 是否 是 的 了 在".split()
)
# English function words (citations, the grounding check, the keyword-match share).
STOPWORDS = frozenset(
    "a an the and or but of to in on at by for with from as is are was were be been it its "
    "this that these those there here what which who whom when where why how do does did "
    "not no yes i you he she they we his her their our your my me him them us so if then".split()
)
_local = threading.local()
_jieba_lock = threading.Lock()
_jieba = None


def _segmenter():
    """jieba, its dictionary loaded (once per process, under a lock)."""
    global _jieba
    if _jieba is None:
        with _jieba_lock:
            if _jieba is None:
                import jieba

                jieba.setLogLevel(logging.WARNING)
                jieba.initialize()
                _jieba = jieba
    return _jieba


def has_cjk(text: str) -> bool:
    return _CJK_RUN.search(text) is not None


def is_chinese(text: str) -> bool:
    """A Chinese text (or question): at least one ideograph for every two Latin letters
    ("LoRA 是什么？" is Chinese)."""
    ideographs = sum(len(m) for m in _CJK_RUN.findall(text))
    letters = sum(1 for c in text if c.isascii() and c.isalpha())
    return ideographs > 0 and 2 * ideographs >= letters


def _parts(text: str):
    """(is_cjk, part) in order: CJK runs and the text between them."""
    at = 0
    for m in _CJK_RUN.finditer(text):
        if m.start() > at:
            yield False, text[at : m.start()]
        yield True, m.group(0)
        at = m.end()
    if at < len(text):
        yield False, text[at:]


def chinese_words(run: str, for_search: bool = False) -> list[str]:
    """jieba's words of a run of ideographs; `for_search` adds the shorter words inside long
    ones (中华人民共和国 -> 中华, 华人, 人民, 共和, 共和国, 中华人民共和国)."""
    jieba = _segmenter()
    return jieba.lcut_for_search(run) if for_search else jieba.lcut(run, HMM=True)


def _stemmer():
    found = getattr(_local, "stemmer", None)
    if found is None:  # a PyStemmer instance must not be used by two threads at once
        import Stemmer

        found = _local.stemmer = Stemmer.Stemmer("english")
    return found


@functools.cache
def _stopwords() -> tuple[frozenset, frozenset]:
    """bm25s's English and Chinese stop words."""
    from bm25s.stopwords import STOPWORDS_CHINESE, STOPWORDS_EN

    return frozenset(STOPWORDS_EN), frozenset(STOPWORDS_CHINESE)


def _english_terms(text: str) -> list[str]:
    """bm25s's tokenization exactly: lowercased \\w\\w+ words, stop words out, stemmed."""
    english_stop = _stopwords()[0]
    found = [w for w in _ENGLISH_TERM.findall(text.lower()) if w not in english_stop]
    return _stemmer().stemWords(found) if found else []


def search_terms(text: str) -> list[str]:
    """The keyword index's terms of a text: English words as bm25s makes them, Chinese
    words from jieba's search mode, stop words out."""
    if not has_cjk(text):  # the common case
        return _english_terms(text)
    chinese_stop = _stopwords()[1]
    out: list[str] = []
    for cjk, part in _parts(text):
        if cjk:
            out += [w for w in chinese_words(part, True) if w not in chinese_stop]
        else:
            out += _english_terms(part)
    return out


def words(text: str) -> list[str]:
    """Lowercased words: runs of letters and digits, Chinese runs split into jieba's words."""
    if not has_cjk(text):
        return [w.lower() for w in _WORD.findall(text)]
    out: list[str] = []
    for cjk, part in _parts(text):
        out += chinese_words(part) if cjk else [w.lower() for w in _WORD.findall(part)]
    return out


def content_words(text: str) -> set[str]:
    """Distinct words that carry content: stop words (English, Chinese) and Chinese question
    words out."""
    _, chinese_stop = _stopwords()
    return {
        w
        for w in words(text)
        if w not in STOPWORDS and w not in ZH_QUESTION_WORDS and w not in chinese_stop
    }


def key_words(text: str) -> set[str]:
    """content_words, English ones stemmed and of two letters or more (the keyword match)."""
    found = [w for w in content_words(text) if len(w) > 1 or has_cjk(w)]
    return set(_stemmer().stemWords(found)) if found else set()


def sentences(text: str) -> list[str]:
    """The text's sentences (non-empty, stripped)."""
    return [s.strip() for s in SENTENCE_END.split(text.strip()) if s and s.strip()]


def join_sentences(parts: list[str]) -> str:
    """Sentences joined again: with a space, but none after a Chinese sentence end."""
    out = ""
    for part in parts:
        out += part if not out or out[-1] in "。！？" + CLOSERS else " " + part
    return out


_LOOP = re.compile(r"(.{1,80}?)(?:\s*\1){3,}\s*$", re.S)
_MARKERS = re.compile(r"\s*\[\d{1,2}\]\s*|\s+")
MIN_REPEAT_CHARS = 8  # a shorter sentence inside an earlier one may be said again


NEAR_REPEAT = 0.5  # word overlap (Jaccard) of a sentence with the one before it, in a loop
LOOP_SENTENCES = 4  # this many sentences in a row, each nearly the one before, are a loop


def varying_loop(parts: list[str]) -> int | None:
    """Where a loop whose words vary ("The first is Paris. The second is Paris. The third
    is…") begins: the index just after its first sentence, once LOOP_SENTENCES sentences
    of three words or more follow each other, each sharing NEAR_REPEAT of its words with
    the one before (shorter sentences between them, "2.", are skipped). None: no loop."""
    previous: set[str] | None = None
    run: list[int] = []
    for i, sentence in enumerate(parts):
        found = {w.lower() for w in words(_MARKERS.sub(" ", sentence))}
        if len(found) < 3:
            continue
        near = previous and len(found & previous) / len(found | previous) >= NEAR_REPEAT
        run = [*run, i] if near else [i]
        previous = found
        if len(run) >= LOOP_SENTENCES:
            return run[0] + 1
    return None


def trim_loop(text: str) -> str:
    """What a small model's loop leaves, cut: the repeats of a unit the text ends in,
    repeated four times or more ("B,B,B,B,B," -> "B,"), a loop whose words vary (after its
    first sentence, `varying_loop`), then every sentence that repeats an earlier one or lies
    inside it (citations and spaces aside), and a character cut in half at the token limit.
    Other text is unchanged."""
    text = text.rstrip("\ufffd")
    m = _LOOP.search(text)
    if m is not None and len(m.group(0)) >= 12:
        text = (text[: m.start()] + m.group(1)).rstrip()
    parts, kept, said = sentences(text), [], []  # type: list[str], list[str], list[str]
    if (end := varying_loop(parts)) is not None:
        text, parts = join_sentences(parts[:end]), parts[:end]
    for sentence in parts:
        key = _MARKERS.sub("", sentence).lower()
        if key in said or (len(key) >= MIN_REPEAT_CHARS and any(key in s for s in said)):
            continue
        said.append(key)
        kept.append(sentence)
    return text if len(kept) == len(parts) else join_sentences(kept)
