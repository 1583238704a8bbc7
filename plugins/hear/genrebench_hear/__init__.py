"""genrebench plugin for models packaged behind the HEAR 2021 API.

Any importable module with ``load_model``, ``get_scene_embeddings`` and
``get_timestamp_embeddings`` (https://hearbenchmark.com/hear-api.html) named by the user
(:mod:`genrebench_hear.modules`) becomes a feature ``hear/<module>``
(:mod:`genrebench_hear.embed`) and an experiment ``hear/<module>-mlp``: HEAR's downstream
protocol for scene tasks, a shallow MLP probe whose hyper-parameters are chosen on the
validation part (:mod:`genrebench_hear.probe`).  :mod:`genrebench_hear.validate` checks a
module against the API's rules as ``hearvalidator`` states them.  The hooks live in
:mod:`genrebench_hear.plugin`."""

__version__ = "0.1.0"
