"""How a document's text is cut into chunks: at sentences, sized in the embedder's tokens,
and bounded in characters whatever the text holds.

Why the character bound: chunk sizes are measured in the embedder's tokens, and a WordPiece
tokenizer turns any "word" longer than 100 characters into a single [UNK]. A 10 MB line
without spaces was therefore one token long, fitted any chunk size and became one chunk of
10 MB, which every question retrieving it then carried to the model and the browser. Here a
text longer than chunk_size x CHARS_PER_TOKEN characters (1,600 at the default 200 tokens)
always counts as too long for a chunk (English runs at about 4.5 characters per token,
Chinese at 1-1.5, so prose never comes near it); where no sentence, phrase or space lets the
splitter cut, it cuts in pieces of characters small enough to fit a chunk whatever their
tokens; and a chunk merged past the bound is cut by characters. Chunks of prose come out
exactly as SentenceSplitter's.
"""

from __future__ import annotations

import bisect
from typing import Any

from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.node_parser.text.sentence import _Split
from llama_index.core.schema import BaseNode, TransformComponent

from webapp.knowledge import formats

CHARS_PER_TOKEN = 8
# Documents indexed before chunks were bounded may hold chunks of megabytes: what is read
# back of one (a source, a neighbour, a listing) is cut to this many characters, so no
# question hands megabytes to the model, the page or the API.
SOURCE_CHARS = 8_000
# A character is at most this many tokens (a BPE tokenizer's bytes of one emoji), so a piece
# of chunk_size / MAX_TOKENS_PER_CHAR characters always fits in a chunk.
MAX_TOKENS_PER_CHAR = 4


def max_chunk_chars(chunk_size: int) -> int:
    """The most characters a chunk of `chunk_size` tokens may hold."""
    return chunk_size * CHARS_PER_TOKEN


class BoundedSplitter(SentenceSplitter):
    """LlamaIndex's SentenceSplitter, with chunks bounded in characters as well as tokens."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        piece = max(1, self.chunk_size // MAX_TOKENS_PER_CHAR)

        def by_pieces(text: str) -> list[str]:
            # Replaces split_by_char, the splitter's last resort: single characters made a
            # 10 MB run into ten million splits, each tokenized on its own.
            if len(text) <= piece:
                return list(text)
            return [text[i : i + piece] for i in range(0, len(text), piece)]

        self._sub_sentence_split_fns[-1] = by_pieces

    @classmethod
    def class_name(cls) -> str:
        return "BoundedSplitter"

    def _token_size(self, text: str) -> int:
        return self._token_sizes([text])[0]

    def _token_sizes(self, texts: list[str]) -> list[int]:
        """Tokens of each text, counted in one call where the counter takes many
        (webapp.models.embedder.TokenCounter). A text longer than any chunk may be is not
        tokenized at all: it counts as its characters / CHARS_PER_TOKEN, more than a chunk
        holds (SentenceSplitter tokenized each whole document first: 1.4 GB of memory for
        7 MB of text, and a run without spaces counted as one [UNK])."""
        most = max_chunk_chars(self.chunk_size)
        sizes = [-(-len(text) // CHARS_PER_TOKEN) for text in texts]
        wanted = [i for i, text in enumerate(texts) if len(text) <= most]
        lengths = getattr(self._tokenizer, "lengths", None)
        counted = (
            lengths([texts[i] for i in wanted])
            if lengths is not None
            else [len(self._tokenizer(texts[i])) for i in wanted]
        )
        for i, n in zip(wanted, counted, strict=True):
            sizes[i] = n
        return sizes

    def _postprocess_chunks(self, chunks: list[str]) -> list[str]:
        """The bound made sure: a chunk merged from many short splits whose tokens each
        span many characters is cut by characters (no real prose comes near it)."""
        most = max_chunk_chars(self.chunk_size)
        out = []
        for chunk in super()._postprocess_chunks(chunks):
            out += [chunk[i : i + most] for i in range(0, len(chunk), most)]
        return out

    def _split(self, text: str, chunk_size: int) -> list[_Split]:
        """SentenceSplitter._split with the sizes of each level's splits counted together
        (a run cut into pieces counts thousands of them)."""
        size = self._token_size(text)
        if size <= chunk_size:
            return [_Split(text, is_sentence=True, token_size=size)]
        splits, is_sentence = self._get_splits_by_fns(text)
        out: list[_Split] = []
        for split, size in zip(splits, self._token_sizes(splits), strict=True):
            if size <= chunk_size or len(splits) == 1:  # (one oversized unit: _merge says so)
                out.append(_Split(split, is_sentence=is_sentence, token_size=size))
            else:
                out.extend(self._split(split, chunk_size))
        return out


def chunk_key(doc_id: str, index: int) -> str:
    """A chunk's document and place in one metadata value: Chroma finds a list of these
    through its index in ~2 ms, where the same chunks asked for as file_id and chunk_index
    took 8 ms per document at 6k chunks (the chunk_index clause matches a row of every
    document, so it grows with the collection)."""
    return f"{doc_id}:{index}"


class ChunkAnnotator(TransformComponent):
    """Numbers the chunks of one document and records each chunk's section heading."""

    def __call__(self, nodes: list[BaseNode], **kwargs: Any) -> list[BaseNode]:
        texts = kwargs.get("source_texts", {})
        headings: dict[str, Headings] = {}
        for i, node in enumerate(nodes):
            node.metadata["chunk_index"] = i
            node.metadata["doc_chunks"] = len(nodes)
            node.metadata["chunk_key"] = chunk_key(node.metadata.get("file_id", ""), i)
            source = texts.get(node.ref_doc_id)
            if source is not None and node.start_char_idx is not None:
                if node.ref_doc_id not in headings:  # read once per text, not once per chunk
                    headings[node.ref_doc_id] = Headings(source)
                section = headings[node.ref_doc_id].at(node.start_char_idx)
                if section:
                    node.metadata["section"] = section[:200]
        return nodes


class Headings:
    """The Markdown headings of a text and where each starts: the section of any offset by
    bisection (a scan of the text per chunk took minutes for 40,000 chunks of 10 MB)."""

    def __init__(self, text: str):
        found = [(m.start(), m.group(1)) for m in formats.HEADING.finditer(text)]
        self.starts = [start for start, _ in found]
        self.titles = [title for _, title in found]

    def at(self, offset: int) -> str | None:
        """The last heading at or before `offset`: the section a chunk starting there cites."""
        i = bisect.bisect_right(self.starts, offset)
        return self.titles[i - 1] if i else None
