"""The paper's three evaluations on hand-made cases, through the core's aggregation
functions (``genrebench.aggregation``), ties included.

raw          -- accuracy of the segment argmaxes;
max-prob.    -- "mean": sum (here: mean) of the segment probabilities, then argmax;
majority     -- "vote": most frequent segment argmax; ties broken by the larger summed
                probability of the tied classes, then by the lower class index.
"""

from __future__ import annotations

import numpy as np
import pytest

from genrebench.aggregation import (
    aggregate_tracks,
    get_aggregation,
    majority_vote,
    mean_probability,
)


def test_registered_names():
    assert get_aggregation("mean") is mean_probability
    assert get_aggregation("vote") is majority_vote


def test_max_probability_is_argmax_of_summed_probabilities():
    p = np.array([[0.7, 0.2, 0.1], [0.1, 0.5, 0.4], [0.2, 0.2, 0.6]])
    # summed likelihoods: class 0 = 1.0, class 1 = 0.9, class 2 = 1.1
    agg = mean_probability(p)
    assert agg == pytest.approx(p.sum(axis=0) / 3)
    assert agg.sum() == pytest.approx(1.0)
    assert int(np.argmax(agg)) == 2
    # while the segment argmaxes are 0, 1, 2: every class one vote
    assert p.argmax(axis=1).tolist() == [0, 1, 2]


def test_max_probability_vs_vote_disagree_like_the_reports_metal_track():
    # most segments say class 0 ("metal") mildly, one says class 1 ("rock") with certainty
    p = np.array([[0.55, 0.45], [0.55, 0.45], [0.0, 1.0]])
    assert int(np.argmax(mean_probability(p))) == 1  # summed likelihood: rock
    assert int(np.argmax(majority_vote(p))) == 0  # 2 votes to 1: metal


def test_vote_shares_without_tie():
    p = np.array([[0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1], [0.9, 0.05, 0.05]])
    v = majority_vote(p)
    assert int(np.argmax(v)) == 0
    assert v == pytest.approx([0.75, 0.25, 0.0], abs=1e-6)
    assert v.sum() == pytest.approx(1.0)


def test_vote_tie_broken_by_summed_probability():
    # two votes each for classes 0 and 2; class 2's segments are more confident
    p = np.array([[0.5, 0.2, 0.3], [0.4, 0.3, 0.3], [0.1, 0.1, 0.8], [0.2, 0.1, 0.7]])
    assert int(np.argmax(majority_vote(p))) == 2
    # a class with no votes (1) cannot win, even with the largest total probability; the
    # tied classes 0 and 2 have equal sums (exact binary fractions), so the lower index wins
    q = np.array(
        [[0.5, 0.375, 0.125], [0.5, 0.375, 0.125], [0.125, 0.375, 0.5], [0.125, 0.375, 0.5]]
    )
    assert q.sum(axis=0).tolist() == [1.25, 1.5, 1.25]
    assert int(np.argmax(majority_vote(q))) == 0


def test_vote_full_tie_goes_to_lowest_index():
    p = np.array([[0.1, 0.6, 0.3], [0.1, 0.3, 0.6]])  # one vote each, equal sums 0.9
    assert int(np.argmax(majority_vote(p))) == 1


def test_max_probability_full_tie_goes_to_lowest_index():
    p = np.array([[0.5, 0.5], [0.5, 0.5]])
    assert int(np.argmax(mean_probability(p))) == 0


def test_aggregate_tracks_groups_unsorted_segments():
    # 2 tracks, 3 segments each, interleaved
    seg_track = np.array([1, 0, 1, 0, 1, 0])
    p = np.array(
        [[0.1, 0.9], [0.8, 0.2], [0.2, 0.8], [0.7, 0.3], [0.6, 0.4], [0.4, 0.6]], dtype=float
    )
    mean = aggregate_tracks(p, seg_track, 2, "mean", "single-label")
    vote = aggregate_tracks(p, seg_track, 2, "vote", "single-label")
    assert mean.shape == vote.shape == (2, 2)
    assert mean.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert vote.sum(axis=1) == pytest.approx([1.0, 1.0])
    assert mean[0] == pytest.approx([(0.8 + 0.7 + 0.4) / 3, (0.2 + 0.3 + 0.6) / 3])
    assert np.argmax(mean, axis=1).tolist() == [0, 1]
    assert np.argmax(vote, axis=1).tolist() == [0, 1]
    assert vote[0] == pytest.approx([2 / 3, 1 / 3], abs=1e-6)


def test_three_accuracies_on_a_hand_made_test_set():
    """raw, max-probability and vote accuracies computed as the runner does."""
    labels = np.array([0, 1])
    seg_track = np.repeat([0, 1], 3)
    p = np.array(
        [
            [0.55, 0.45],
            [0.55, 0.45],
            [0.0, 1.0],  # track 0 (class 0): vote right, sum wrong
            [0.3, 0.7],
            [0.6, 0.4],
            [0.2, 0.8],  # track 1 (class 1): both right
        ]
    )
    raw = np.mean(p.argmax(axis=1) == labels[seg_track])
    acc_mean = np.mean(
        aggregate_tracks(p, seg_track, 2, "mean", "single-label").argmax(1) == labels
    )
    acc_vote = np.mean(
        aggregate_tracks(p, seg_track, 2, "vote", "single-label").argmax(1) == labels
    )
    assert raw == pytest.approx(4 / 6)
    assert acc_mean == pytest.approx(0.5)
    assert acc_vote == pytest.approx(1.0)


# --------------------------------------------------------------------------- report's code
def _softmax32(logits: np.ndarray) -> np.ndarray:
    """Probabilities as TorchClassifier returns them: float32 softmax, then float64."""
    import torch

    return torch.softmax(torch.from_numpy(logits.astype(np.float32)), dim=1).double().numpy()


def test_geometric_rule_picks_the_class_of_the_summed_logits():
    # The report's code takes argmax of the logits summed over a track's segments.  A
    # segment's log-softmax is its logits minus one constant (the log-sum-exp), so the
    # summed log-probabilities -- the core's geometric rule -- rank classes the same way.
    rng = np.random.default_rng(0)
    agree = 0
    for _ in range(500):
        logits = rng.normal(scale=4.0, size=(15, 10))
        by_logits = int(np.argmax(logits.sum(axis=0)))
        by_geometric = int(np.argmax(get_aggregation("geometric")(_softmax32(logits))))
        agree += by_logits == by_geometric
    assert agree == 500
    # ... which is not the summed-probability rule: 500 random tracks disagree somewhere
    disagree = sum(
        int(np.argmax(logits.sum(0))) != int(np.argmax(_softmax32(logits).sum(0)))
        for logits in rng.normal(scale=4.0, size=(500, 15, 10))
    )
    assert disagree > 0


def test_geometric_rule_differs_from_summed_logits_once_probabilities_are_clipped():
    # The geometric rule clips probabilities at 1e-12 (a logit gap beyond ln 1e12 = 27.6)
    # before the log, so a segment that rules a class out much more strongly than that no
    # longer counts in full.  Summed logits: class 0 = 30, class 1 = 40, so class 1; summed
    # clipped log-probabilities: class 0 = -27.6 (instead of -40), class 1 = -20 - 10 = -30,
    # so class 0.
    logits = np.array([[0.0, 40.0], [20.0, 0.0], [10.0, 0.0]])
    assert int(np.argmax(logits.sum(axis=0))) == 1
    assert int(np.argmax(get_aggregation("geometric")(_softmax32(logits)))) == 0
