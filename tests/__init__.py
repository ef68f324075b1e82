"""Shared by several test files: the API's contract, pinned here rather than read from the code."""

# The keys of each source in /chat's and `webapp ask --json`'s answers.
SOURCE_KEYS = {
    "file",
    "page",
    "score",
    "text",
    "dense_score",
    "dense_rank",
    "bm25_score",
    "bm25_rank",
    "keyword_match",
    "fused_rank",
    "rerank_score",
    "matched_spans",
    "evidence",
}
