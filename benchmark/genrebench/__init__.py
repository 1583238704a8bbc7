"""genrebench: a plugin-based benchmark harness for music genre classification.

A plugin imports only from here::

    from genrebench import hookimpl, DatasetSpec, FeatureSpec, ModelSpec, ExperimentSpec
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

__all__ = [
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
