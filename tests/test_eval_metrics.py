"""Scoring functions against hand-computed cases."""

import math

import pytest

from webapp.evaluation import metrics


def test_normalisation_follows_squad():
    assert metrics.normalize("The  Eiffel-Tower, in PARIS!") == "eiffeltower in paris"
    assert metrics.normalize("An apple [1] and a pear [2, 3].") == "apple and pear"


@pytest.mark.parametrize(
    ("prediction", "gold", "expected"),
    [
        ("The Pittsburgh Steelers", "Pittsburgh Steelers", 1.0),
        ("Pittsburgh Steelers [1].", "pittsburgh steelers", 1.0),
        ("the Steelers", "Pittsburgh Steelers", 0.0),
        ("", "anything", 0.0),
    ],
)
def test_exact_match(prediction, gold, expected):
    assert metrics.exact_match(prediction, gold) == expected


def test_token_f1_by_hand():
    # prediction tokens: steelers, won, 23 ; gold: pittsburgh, steelers -> 1 in common
    # precision 1/3, recall 1/2 -> f1 = 2 * (1/6) / (5/6) = 0.4
    assert metrics.f1("The Steelers won 23", "Pittsburgh Steelers") == pytest.approx(0.4)
    assert metrics.f1("no overlap here", "Pittsburgh Steelers") == 0.0
    assert metrics.f1("Lady Gaga", ["Gaga", "Lady Gaga"]) == 1.0  # best of several golds


def test_contains_needs_whole_words():
    assert metrics.contains("Luke Kuechly registered 118 tackles [1].", "118") == 1.0
    assert metrics.contains("It cost 1180 dollars", "118") == 0.0
    assert metrics.contains("anything", "") == 0.0


def test_ranking_metrics_by_hand():
    ranked = ["d3", "d1", "d7", "d2"]
    relevant = {"d1", "d2"}
    assert metrics.reciprocal_rank(ranked, relevant) == 0.5
    assert metrics.reciprocal_rank(ranked, relevant, k=1) == 0.0
    assert metrics.hit_at_k(ranked, relevant, 1) == 0.0
    assert metrics.hit_at_k(ranked, relevant, 2) == 1.0
    assert metrics.recall_at_k(ranked, relevant, 2) == 0.5
    assert metrics.recall_at_k(ranked, relevant, 4) == 1.0
    # DCG = 1/log2(3) + 1/log2(5); IDCG = 1 + 1/log2(3)
    dcg = 1 / math.log2(3) + 1 / math.log2(5)
    idcg = 1 + 1 / math.log2(3)
    assert metrics.ndcg_at_k(ranked, {"d1": 1, "d2": 1}, 10) == pytest.approx(dcg / idcg)
    assert metrics.ndcg_at_k(["d1", "d2"], {"d1": 1, "d2": 1}, 10) == pytest.approx(1.0)
    assert metrics.ndcg_at_k(ranked, {"d9": 1}, 10) == 0.0


def test_chunks_map_to_documents_at_their_best_rank():
    assert metrics.unique_in_order(["a", "b", "a", "c", "b"]) == ["a", "b", "c"]


def test_mean_and_median_skip_missing_values():
    assert metrics.mean([1.0, None, 0.0]) == 0.5
    assert metrics.mean([None]) is None
    assert metrics.median([3.0, 1.0, 2.0, 10.0]) == 2.5


def test_chinese_answers_are_scored_by_characters():
    from webapp.evaluation import metrics

    assert metrics.contains("他有两次拦截被判为触地得分 [1]。", "两次") == 1.0
    assert metrics.contains("他有三次拦截 [1]。", "两次") == 0.0
    assert metrics.exact_match("两次。", "两次") == 1.0
    assert metrics.f1("有两次", "两次") == 0.8  # 2 of 3 characters shared, both gold ones
