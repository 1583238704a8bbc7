"""genrebench hook implementations of the ``hear`` plugin (registration only).

For every HEAR module the user names (:mod:`genrebench_hear.modules`): a feature
``hear/<name>`` (:func:`genrebench_hear.embed.embed`) and an experiment ``hear/<name>-mlp``
(that feature and the model ``hear/mlp-probe``, :mod:`genrebench_hear.probe`), on
single-label and multi-label data, on the data set's benchmark split like every
experiment.  A module that cannot run (not installed, weights missing, ``load_model``
failing) is still registered: its jobs fail with the reason, and one that declares
``needs_weights`` without weights is left out of suites and globs as every experiment that
needs weights is.
"""

from __future__ import annotations

import functools

from genrebench import ExperimentSpec, FeatureSpec, ModelSpec, hookimpl
from genrebench_hear import compat, modules, probe
from genrebench_hear.embed import embed

MODEL = "hear/mlp-probe"
PAPER = (
    "J. Turian, J. Shier, H. R. Khan, B. Raj, B. W. Schuller, C. J. Steinmetz, C. Malloy, "
    "G. Tzanetakis, G. Velarde, K. McNally, M. Henry, N. Pinto, C. Noufi, C. Clough, "
    "D. Herremans, E. Fonseca, J. Engel, J. Salamon, P. Esling, P. Manocha, S. Watanabe, "
    "Z. Jin, Y. Bisk: HEAR: Holistic Evaluation of Audio Representations (NeurIPS 2021 "
    "Competitions and Demonstrations Track, PMLR 176, 2022); downstream protocol of "
    "hear-eval-kit 2021.1.3"
)
#: ``quick`` trains 4 of the grid's 16 configurations for at most 100 epochs; ``paper`` is
#: hear-eval-kit's default (8 configurations, at most 500 epochs).
PROFILES = {"quick": {"grid_points": 4, "max_epochs": 100}, "paper": {}}


def entries() -> list[modules.Entry]:
    """The named modules with their facts (read at every registration: the settings and
    the weights files may have changed since the last one)."""
    return [modules.with_facts(entry) for entry in modules.read_entries()]


def feature_spec(entry: modules.Entry) -> FeatureSpec:
    facts = entry.facts
    shims = compat.shims_of(entry.module)
    rate = facts.get("sample_rate", modules.UNKNOWN_SAMPLE_RATE)
    size = facts.get(
        "scene_embedding_size" if entry.embedding == "scene" else "timestamp_embedding_size"
    )
    how = "scene embedding" if entry.embedding == "scene" else "mean of timestamp embeddings"
    note = f" (compatibility shims: {', '.join(shims)})" if shims else ""
    state = f"; cannot run: {entry.problem}" if entry.problem else ""
    return FeatureSpec(
        name=entry.feature,
        extract=functools.partial(embed, entry=entry),
        sample_rate=rate,
        params={
            "module": entry.module,
            "module_version": facts.get("version", ""),
            "weights_sha256": modules.weights_digest(entry),
            "embedding": entry.embedding,
            "compat": list(shims),
        },
        version="1",
        description=f"HEAR module {entry.module}: {how} per track"
        + (f", {size}-d" if size else "")
        + f" at {rate} Hz{note}{state}",
    )


def experiment_spec(entry: modules.Entry) -> ExperimentSpec:
    needs = entry.needs_weights and entry.weights is None
    return ExperimentSpec(
        name=entry.experiment,
        feature=entry.feature,
        model=MODEL,
        tasks=("single-label", "multi-label"),
        profiles=PROFILES,
        description=f"{entry.module} embeddings (HEAR 2021 API) + HEAR's downstream MLP probe, "
        "hidden size and learning rate chosen on the validation part",
        paper=PAPER,
        requires_weights=entry.weights_hint() if needs else "",
    )


@hookimpl
def genrebench_register_features():
    return [feature_spec(entry) for entry in entries()]


@hookimpl
def genrebench_register_models():
    return [
        ModelSpec(
            MODEL,
            probe.create,
            tasks=("single-label", "multi-label"),
            description="HEAR's downstream probe: 1-2 hidden layers of 1024 (batch norm, "
            "dropout 0.1), Adam, learning rate and layers chosen on the validation score",
        )
    ]


@hookimpl
def genrebench_register_experiments():
    return [experiment_spec(entry) for entry in entries()]
