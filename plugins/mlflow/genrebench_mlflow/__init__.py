"""genrebench plugin logging every job of a ``genrebench run`` to MLflow.

Off unless ``MLFLOW_TRACKING_URI`` is set: the hooks in :mod:`genrebench_mlflow.plugin`
then hand each job to :class:`genrebench_mlflow.tracker.Tracker`, which is the only module
that imports mlflow."""

__version__ = "0.1.0"
