"""The 6-CNN vote rule on hand-made cases: consensus, no consensus, 3–3 ties, the best
member by validation accuracy, and the probabilities it returns."""

from __future__ import annotations

import numpy as np
import pytest
from genrebench_yan2023.ensemble import best_member, vote_or_best_member

from genrebench import EnsembleMember

N_CLASSES = 5


def onehot(labels, n_classes=N_CLASSES):
    """Member probabilities whose argmax is ``labels`` (not exactly one-hot)."""
    p = np.full((len(labels), n_classes), 0.1 / (n_classes - 1))
    p[np.arange(len(labels)), labels] = 0.9
    return p


def members(test_votes, valid_accuracy=None, y_valid=None):
    """Six members; ``test_votes[i]`` are the classes each member predicts for track i.
    Member m gets ``valid_accuracy[m]`` of the 10 validation tracks right."""
    test_votes = np.asarray(test_votes)
    out = []
    for m in range(test_votes.shape[1]):
        valid = None
        if valid_accuracy is not None:
            right = round(valid_accuracy[m] * len(y_valid))
            predicted = np.where(np.arange(len(y_valid)) < right, y_valid, (y_valid + 1) % 5)
            valid = onehot(predicted)
        out.append(EnsembleMember(f"m{m}", onehot(test_votes[:, m]), valid))
    return out


Y_VALID = np.arange(10) % N_CLASSES
ACCURACY = [0.7, 0.6, 0.5, 0.5, 0.9, 0.4]  # member 4 is best on validation


@pytest.mark.parametrize(
    ("votes", "expected"),
    [
        ([2, 2, 2, 2, 0, 1], 2),  # four votes
        ([1, 1, 1, 0, 2, 3], 1),  # exactly three
        ([3, 3, 3, 3, 3, 3], 3),  # unanimous
        ([0, 0, 1, 1, 2, 3], 2),  # 2-2-1-1: member 4 (best) voted 2
        ([0, 1, 2, 3, 4, 0], 4),  # all different but one: best member decides
        ([0, 0, 0, 1, 1, 1], 1),  # 3-3 tie: no single winner, the best member (voted 1)
        ([4, 4, 4, 1, 1, 1], 1),
    ],
)
def test_vote_with_fallback(votes, expected):
    probs = vote_or_best_member(members([votes], ACCURACY, Y_VALID), Y_VALID, "single-label")
    assert probs.shape == (1, N_CLASSES)
    assert int(np.argmax(probs[0])) == expected
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)


def test_several_tracks_at_once_and_vote_shares():
    votes = [[2, 2, 2, 2, 0, 1], [0, 0, 1, 1, 2, 3]]
    probs = vote_or_best_member(members(votes, ACCURACY, Y_VALID), Y_VALID, "single-label")
    assert probs.argmax(axis=1).tolist() == [2, 2]
    # Half the mass on the decision, the other half as vote shares.
    np.testing.assert_allclose(probs[0], [1 / 12, 1 / 12, 0.5 + 4 / 12, 0, 0])
    np.testing.assert_allclose(probs[1], [2 / 12, 2 / 12, 0.5 + 1 / 12, 1 / 12, 0])


def test_best_member_is_the_first_on_ties():
    ms = members([[0, 1, 2, 3, 4, 0]], [0.5, 0.8, 0.8, 0.1, 0.2, 0.3], Y_VALID)
    assert best_member(ms, Y_VALID) == 1
    probs = vote_or_best_member(ms, Y_VALID, "single-label")
    assert int(np.argmax(probs[0])) == 1


def test_needs_validation_predictions():
    with pytest.raises(ValueError, match="validation"):
        vote_or_best_member(members([[0, 0, 0, 0, 1, 1]]), None, "single-label")


def test_single_label_only():
    with pytest.raises(ValueError, match="single-label"):
        vote_or_best_member(members([[0] * 6], ACCURACY, Y_VALID), Y_VALID, "multi-label")
