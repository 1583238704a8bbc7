"""What provenance records about the numeric environment (CPU, math libraries, threads,
determinism), and that a torch job records its effective training settings."""

from __future__ import annotations

import json
import platform

from genrebench import ExperimentSpec, ModelSpec, hookimpl
from genrebench.registry.loading import load_plugins
from genrebench.results.provenance import NUMERIC_ENV, compute_environment, jsonable
from genrebench.run.runner import Runner, RunOptions, plan


def test_compute_environment_names_cpu_libraries_threads_and_determinism(monkeypatch):
    import torch

    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", "AVX2")
    env = compute_environment()
    json.dumps(jsonable(env))  # JSON-ready
    assert set(env["env"]) == set(NUMERIC_ENV)
    assert env["env"]["ONEDNN_MAX_CPU_ISA"] == "AVX2"
    cpu = env["cpu"]
    assert cpu["machine"] == platform.machine() and cpu["logical_cpus"] >= 1
    if platform.system() == "Linux" and platform.machine() == "x86_64":
        assert "sse2" in cpu["simd_flags"] and cpu["vendor"]
        assert all(not f.startswith(("fpu", "vme", "ht")) for f in cpu["simd_flags"])
    described = env["torch"]
    assert described["version"] == torch.__version__
    assert described["cpu_capability"] == torch.backends.cpu.get_cpu_capability()
    assert described["threads"] == torch.get_num_threads()
    assert described["deterministic_algorithms"] == torch.are_deterministic_algorithms_enabled()
    assert described["build"].get("BLAS_INFO")  # e.g. "mkl"
    # numpy's BLAS at least, with the kernel architecture it chose and its threads
    assert env["blas"] and all("num_threads" in pool for pool in env["blas"])


def _linear(setup):
    import torch

    from genrebench.training import TorchClassifier, TrainConfig

    net = torch.nn.Linear(setup.input_shape[0], len(setup.classes))
    return TorchClassifier(net, setup, TrainConfig.from_budget(setup.budget, epochs=1))


class TorchLinear:
    @hookimpl
    def genrebench_register_models(self):
        return [ModelSpec("test/linear", _linear)]

    @hookimpl
    def genrebench_register_experiments(self):
        return [ExperimentSpec("test/linear", "example/band-energies", "test/linear")]


def test_a_torch_job_records_its_train_config_and_compute_environment(tmp_path):
    registry = load_plugins(extra=[TorchLinear()])
    options = RunOptions(experiments=["test/linear"], datasets=["example-tones"], out=tmp_path)
    jobs, _ = plan(registry, options)
    [result] = Runner(registry, options).run(jobs)
    assert result["status"] == "ok", result.get("error")
    provenance = json.loads(next((tmp_path / "runs").rglob("provenance.json")).read_text())
    assert provenance["train_config"]["deterministic"] is True
    assert provenance["train_config"]["l1"] == 0.0
    compute = provenance["environment"]["compute"]
    assert {"cpu", "env", "blas", "torch"} <= set(compute)
