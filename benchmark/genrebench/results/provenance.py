"""What is recorded with every result so that anyone can reproduce it."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib.metadata
import json
import os
import platform
import re
import resource
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import genrebench

PACKAGES = (
    "genrebench",
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "torch",
    "librosa",
    "soundfile",
    "soxr",
    "pluggy",
    "numba",
)


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of ``value`` in which functions are named by module and qualified
    name (never by memory address, which would change every run)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, os.PathLike):
        return str(value)
    if isinstance(value, functools.partial):
        return {
            "partial": jsonable(value.func),
            "args": jsonable(value.args),
            "kwargs": jsonable(value.keywords),
        }
    if callable(value):
        module = getattr(value, "__module__", type(value).__module__)
        name = getattr(value, "__qualname__", type(value).__qualname__)
        return f"{module}.{name}"
    if isinstance(value, str | int | float | bool) or value is None:
        return value
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return repr(value)


def config_hash(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(jsonable(config), sort_keys=True).encode()).hexdigest()[:16]


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


@functools.cache
def git_revision(path: str | None = None) -> dict[str, Any] | None:
    """Commit and dirty flag of the git checkout holding ``path`` (the current directory
    by default), or None outside git."""
    cwd = path or os.getcwd()
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=10
        )
        if commit.returncode != 0:
            return None
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": commit.stdout.strip(), "dirty": bool(status.stdout.strip()), "path": cwd}


def environment() -> dict[str, Any]:

    source = str(Path(genrebench.__file__).resolve().parent)
    return {
        "argv": sys.argv,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "packages": package_versions(),
        "git": git_revision(),
        "genrebench_source_git": git_revision(source),
        "compute": compute_environment(),
    }


# ----------------------------------------------------------------- numeric environment
#: Environment variables that choose the CPU kernels or thread counts of the numeric
#: libraries, and so the last bits of a float result.
NUMERIC_ENV = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "ATEN_CPU_CAPABILITY",
    "ONEDNN_MAX_CPU_ISA",
    "DNNL_MAX_CPU_ISA",
    "MKL_CBWR",
    "MKL_ENABLE_INSTRUCTIONS",
    "CUBLAS_WORKSPACE_CONFIG",
)
#: Instruction-set extensions that select different math kernels (x86 and ARM names).
_SIMD_FLAG = re.compile(r"^(sse\d|ssse3|sse4_[12]|avx\w*|fma\w*|f16c|amx\w*|asimd\w*|sve\w*)$")
#: Lines of ``torch.__config__.show()`` that name the math libraries and the kernel level.
_TORCH_LIBRARIES = ("Math Kernel Library", "MKL-DNN", "oneDNN", "OpenBLAS", "CPU capability")
_TORCH_BUILD = re.compile(r"\b(BLAS_INFO|LAPACK_INFO|USE_MKL|USE_MKLDNN|USE_OPENMP)=([^,\s]*)")


def compute_environment() -> dict[str, Any]:
    """What makes floating-point training differ between machines that run the same code:
    the CPU and its instruction-set extensions (math libraries pick kernels by them), the
    math libraries and the kernel level torch dispatches to, thread counts (they change the
    order of reductions), the variables that pin those choices, and torch's determinism
    switches.  torch is described only when it is already imported."""
    out: dict[str, Any] = {
        "cpu": cpu_description(),
        "env": {name: os.environ.get(name) for name in NUMERIC_ENV},
        "blas": _threadpools(),
    }
    torch = sys.modules.get("torch")
    if torch is not None:
        out["torch"] = _torch_description(torch)
    return out


_CPU_IDS = {
    "vendor_id": "vendor",
    "cpu family": "family",
    "model": "model_number",
    "stepping": "stepping",
    "CPU implementer": "implementer",
    "CPU part": "part",
}


@functools.cache
def cpu_description() -> dict[str, Any]:
    """CPU model and its SIMD flags (from ``/proc/cpuinfo`` on Linux; the model from
    ``platform`` elsewhere)."""
    model, flags, ids = platform.processor(), [], {}
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if key in ("model name", "Model", "cpu model") and value:
            model = value
        elif key in ("flags", "Features") and not flags:
            flags = value.split()
        # A hypervisor often hides the model name: vendor, family, model number and
        # stepping still tell CPU generations apart.
        elif key in _CPU_IDS:
            ids.setdefault(_CPU_IDS[key], value)
    return {
        "model": model,
        **ids,
        "machine": platform.machine(),
        "logical_cpus": os.cpu_count(),
        "simd_flags": sorted(f for f in set(flags) if _SIMD_FLAG.match(f)),
    }


def _threadpools() -> list[dict[str, Any]]:
    """The BLAS and OpenMP libraries loaded in this process: version, the kernel
    architecture they chose, threads (threadpoolctl)."""
    try:
        # lazy: loads threadpoolctl, not needed at import time
        from threadpoolctl import threadpool_info
    except ImportError:  # pragma: no cover - a dependency of scikit-learn
        return []
    keys = ("internal_api", "prefix", "version", "architecture", "threading_layer", "num_threads")
    return [{k: pool.get(k) for k in keys if k in pool} for pool in threadpool_info()]


def _torch_description(torch: Any) -> dict[str, Any]:
    shown = _torch_config_show(torch)
    cudnn = torch.backends.cudnn
    return {
        "version": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "libraries": [
            line.strip(" -")
            for line in shown.splitlines()
            if any(k in line for k in _TORCH_LIBRARIES)
        ],
        "build": dict(_TORCH_BUILD.findall(shown)),
        "threads": torch.get_num_threads(),
        "interop_threads": torch.get_num_interop_threads(),
        # The process setting when this is written; TorchClassifier turns determinism on
        # while it trains (its TrainConfig, recorded as ``train_config``).
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "deterministic_warn_only": torch.is_deterministic_algorithms_warn_only_enabled(),
        "cudnn_deterministic": bool(cudnn.deterministic),
        "cudnn_benchmark": bool(cudnn.benchmark),
        "cuda": torch.version.cuda,
        "cuda_device": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


@functools.cache
def _torch_config_show(torch: Any) -> str:
    return torch.__config__.show()


def peak_memory_mib() -> dict[str, float]:
    """High-water marks of resident memory so far: this process and its finished children
    (feature workers).  ru_maxrss is in KiB on Linux."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return {"process_peak_rss_mib": round(own, 1), "children_peak_rss_mib": round(children, 1)}
