"""The paper's 6-CNN ensemble rule (§4.2.4): each member votes for its top genre; a genre
with at least 3 votes wins; otherwise the member with the best development-set accuracy
decides.

Where the paper is silent:

* Two genres with 3 votes each (possible with 6 members) are no consensus, so the best
  member decides -- it voted for one of the two.  (The authors' code took the lower class
  index.)
* Members equally accurate on the development set: the one listed first wins (the paper
  lists Table 4 best first).
* The rule decides a class; the probabilities it returns put half the mass on that class
  and spread the other half as the vote shares, so the argmax is the rule's decision and the
  other classes keep an order for ROC-AUC.  Only accuracy is comparable with the paper.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from genrebench import EnsembleMember, Task

MIN_VOTES = 3


def best_member(members: Sequence[EnsembleMember], y_valid: np.ndarray | None) -> int:
    """Index of the member with the highest validation accuracy (first on ties)."""
    if y_valid is None or any(m.valid is None for m in members):
        raise ValueError(
            "the vote-or-best-member rule needs the members' validation predictions and "
            "labels to pick the best member; run it on a split with a validation part"
        )
    accuracy = [float(np.mean(np.argmax(m.valid, axis=1) == y_valid)) for m in members]
    return int(np.argmax(accuracy))


def vote_or_best_member(
    members: Sequence[EnsembleMember],
    y_valid: np.ndarray | None,
    task: Task,
    min_votes: int = MIN_VOTES,
) -> np.ndarray:
    """Test-track probabilities of the majority vote with the best-member fallback."""
    if task != "single-label":
        raise ValueError("the vote-or-best-member rule is for single-label tasks")
    if not members:
        raise ValueError("an ensemble needs members")
    best = best_member(members, y_valid)
    n_tracks, n_classes = members[0].test.shape
    votes = np.stack([np.argmax(m.test, axis=1) for m in members], axis=1)  # (tracks, members)
    counts = np.zeros((n_tracks, n_classes), dtype=int)
    np.add.at(counts, (np.arange(n_tracks)[:, None], votes), 1)
    top = counts.max(axis=1)
    consensus = (top >= min_votes) & ((counts == top[:, None]).sum(axis=1) == 1)
    decision = np.where(consensus, counts.argmax(axis=1), votes[:, best])
    shares = counts / len(members)
    return 0.5 * np.eye(n_classes)[decision] + 0.5 * shares
