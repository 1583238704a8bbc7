"""The two evaluation protocols of a run: which split a job uses and which caps it obeys.

* ``benchmark`` (the default) is how papers are *compared*: every experiment run on a data
  set uses one split -- the run's ``--split`` (and ``--split-ratios``) if given, else the
  data set's default (``Dataset.default_split``) -- whatever split the experiment's paper
  used (``ExperimentSpec.split`` is ignored).  A profile may cap the training and
  validation tracks (``max_train_tracks``, ``max_valid_tracks``), epochs and segments, but
  never the test part: ``max_test_tracks`` is ignored, and the result says so.  So every
  row of one data set is evaluated on the same test tracks.
* ``paper`` is how a paper is *reproduced*: the experiment's own split
  (``ExperimentSpec.split``; ``--split``/``--split-ratios`` still override it) and every cap
  of its profile, test caps included.  Its results go to their own folder
  (``.../<profile>/paper-protocol/seed-<n>``, :func:`genrebench.results.outputs.job_folder`) and
  name the protocol in every output.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from genrebench.dataset import DEFAULT_FOLDS, KFOLD
from genrebench.errors import ConfigError
from genrebench.specs import SplitRequest

PROTOCOLS = ("benchmark", "paper")
DEFAULT_PROTOCOL = "benchmark"
#: Budget keys that cap a split part's tracks (:func:`genrebench.run.stages.limit_split`).
TRACK_CAPS = {"train": "max_train_tracks", "valid": "max_valid_tracks", "test": "max_test_tracks"}


def check_protocol(protocol: str) -> str:
    """``protocol`` if it is one of :data:`PROTOCOLS`, else a :class:`ConfigError`."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; protocols: {', '.join(PROTOCOLS)}")
    return protocol


def split_request(
    protocol: str,
    experiment_split: SplitRequest,
    split: str | None = None,
    ratios: Mapping[str, float] | None = None,
    folds: int | None = None,
) -> SplitRequest:
    """The split a job of an experiment whose own split is ``experiment_split`` uses, given
    the run's ``--split``, ``--split-ratios`` and ``--folds``.  Under the benchmark protocol
    ratios without a scheme mean ``stratified``; a ``kfold`` request carries ``folds``
    (default :data:`DEFAULT_FOLDS`) and no ratios."""
    if check_protocol(protocol) == "paper":
        request = experiment_split
        if split:
            request = SplitRequest(split, request.ratios)
        if ratios:
            request = replace(request, ratios=dict(ratios))
    else:
        scheme = split or ("stratified" if ratios else "default")
        request = SplitRequest(scheme, dict(ratios) if ratios else None)
    if request.scheme == KFOLD:
        return SplitRequest(KFOLD, None, folds or DEFAULT_FOLDS)
    return replace(request, folds=None)


def track_caps(protocol: str, budget: Mapping[str, Any]) -> tuple[dict[str, int], dict[str, int]]:
    """The track caps of ``budget`` that the protocol applies and those it ignores (the
    benchmark protocol never caps the test part), each ``{budget key: limit}``."""
    present = {key: int(budget[key]) for key in TRACK_CAPS.values() if budget.get(key) is not None}
    for key, limit in present.items():
        if limit < 1:
            raise ConfigError(f"{key} must be a whole number >= 1, got {budget[key]!r}")
    if check_protocol(protocol) == "paper":
        return present, {}
    ignored = {k: v for k, v in present.items() if k == TRACK_CAPS["test"]}
    return {k: v for k, v in present.items() if k not in ignored}, ignored
