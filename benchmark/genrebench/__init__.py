"""genrebench: a plugin-based benchmark harness for music genre classification.

A plugin imports its specs and the hook marker from here::

    from genrebench import hookimpl, DatasetSpec, FeatureSpec, ModelSpec, ExperimentSpec

and its helpers from the toolkit modules of :data:`PUBLIC_API`; every other module is
internal and may change without notice (a test fails when plugin code imports one).
"""

from genrebench.dataset import Dataset, Problem, Split, Track
from genrebench.hookspecs import hookimpl, hookspec
from genrebench.specs import (
    Calibration,
    CalibratorSpec,
    DatasetSpec,
    EnsembleMember,
    EnsembleSpec,
    ExperimentSpec,
    FeatureSpec,
    MetricSpec,
    Model,
    ModelSetup,
    ModelSpec,
    Reported,
    Segments,
    SplitRequest,
    Task,
)

__version__ = "0.1.0"

#: The public plugin API: the modules a plugin may import, each with the names it may use
#: (``None``: every name its ``__all__`` lists, or every name without a leading ``_`` when
#: it has none).  Everything else in the package is internal.
PUBLIC_API: dict[str, frozenset[str] | None] = {
    "genrebench": None,  # the specs, Dataset/Track, hookimpl and this constant
    "genrebench.hookspecs": None,  # the hook specifications (for documentation, hookimpl)
    "genrebench.specs": None,  # the frozen spec dataclasses and protocols
    "genrebench.errors": None,  # ConfigError and its kin, raised by plugins too
    "genrebench.dataset": None,  # Dataset, Track, Split, Problem
    "genrebench.training": None,  # TorchClassifier, TrainConfig, count_parameters, ...
    "genrebench.frontends": None,  # torch front ends: LogMel, mono_input, ...
    "genrebench.augment": None,  # spectrogram augmentation
    "genrebench.aggregation": None,  # segment -> track aggregation
    "genrebench.audio": None,  # decoding and resampling
    "genrebench.weights": None,  # pretrained-weight location and digests
    "genrebench.testing": None,  # the plugin test kit
    "genrebench.cache": frozenset({"default_cache_dir"}),  # where a plugin may keep files
}

__all__ = [
    "PUBLIC_API",
    "Calibration",
    "CalibratorSpec",
    "Dataset",
    "DatasetSpec",
    "EnsembleMember",
    "EnsembleSpec",
    "ExperimentSpec",
    "FeatureSpec",
    "MetricSpec",
    "Model",
    "ModelSetup",
    "ModelSpec",
    "Problem",
    "Reported",
    "Segments",
    "Split",
    "SplitRequest",
    "Task",
    "Track",
    "__version__",
    "hookimpl",
    "hookspec",
]
