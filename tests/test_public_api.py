"""The plugins' code imports only the public plugin API (``genrebench.PUBLIC_API``), and
the toolkit holds what plugins used to copy."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import genrebench
from genrebench import PUBLIC_API

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_CODE = sorted(ROOT.glob("plugins/*/genrebench_*/**/*.py"))


def _allowed_names(module: str) -> set[str]:
    allowed = PUBLIC_API[module]
    if allowed is not None:
        return set(allowed)
    mod = importlib.import_module(module)
    names = getattr(mod, "__all__", None)
    if names is None:
        names = [n for n in vars(mod) if not n.startswith("_")]
    return set(names)


def api_violations(source: str, filename: str = "<plugin>") -> list[str]:
    """Every import of ``genrebench`` (not of a ``genrebench_*`` plugin package) in
    ``source`` that reaches outside the public API, function-level imports included."""
    problems = []
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "genrebench" and alias.name not in PUBLIC_API:
                    problems.append(f"{filename}:{node.lineno}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            module = node.module
            if module.split(".")[0] != "genrebench":
                continue
            if module not in PUBLIC_API:
                problems.append(f"{filename}:{node.lineno}: from {module} import ...")
                continue
            allowed = _allowed_names(module)
            for alias in node.names:
                submodule = f"{module}.{alias.name}"
                private = alias.name.startswith("_") and not alias.name.endswith("__")
                if alias.name in allowed and not private:
                    continue
                if submodule in PUBLIC_API:
                    continue
                problems.append(f"{filename}:{node.lineno}: from {module} import {alias.name}")
    return problems


def test_the_plugins_code_is_found():
    packages = {p.parent.name for p in PLUGIN_CODE if p.name == "__init__.py"}
    assert {"genrebench_schindler2016", "genrebench_yan2023", "genrebench_hear"} <= packages


@pytest.mark.parametrize("path", PLUGIN_CODE, ids=lambda p: str(p.relative_to(ROOT)))
def test_plugin_code_imports_only_the_public_api(path):
    assert api_violations(path.read_text(encoding="utf-8"), str(path)) == []


@pytest.mark.parametrize(
    "source",
    [
        "from genrebench.run.runner import Runner",
        "import genrebench.run.stages",
        "from genrebench.features.cache import FeatureCache",
        "from genrebench.training import _moments",
        "def f():\n    from genrebench.registry.loading import load_plugins",
        "from genrebench import cli",
    ],
)
def test_the_check_catches_an_import_outside_the_api(source):
    assert api_violations(source) != []


@pytest.mark.parametrize(
    "source",
    [
        "from genrebench import hookimpl, ExperimentSpec",
        "from genrebench import weights",
        "from genrebench.training import TorchClassifier, TrainConfig, count_parameters",
        "from genrebench.cache import default_cache_dir",
        "import genrebench.errors",
        "from genrebench_yan2023.budget import merged",
    ],
)
def test_the_check_allows_the_api(source):
    assert api_violations(source) == []


def test_every_public_module_and_name_exists():
    for module, names in PUBLIC_API.items():
        mod = importlib.import_module(module)
        for name in names or ():
            assert hasattr(mod, name), f"{module}.{name}"
    for name in genrebench.__all__:
        assert hasattr(genrebench, name), name


# --------------------------------------------------------------------------- the toolkit
def test_count_parameters_counts_parameters_not_buffers():
    torch = pytest.importorskip("torch")
    from genrebench.training import count_parameters

    net = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    assert count_parameters(net) == 3 * 2 + 2 + 2 + 2  # linear + batch norm's scale, shift


def test_train_config_from_settings_layers_and_leaves_out():
    pytest.importorskip("torch")
    from genrebench.training import TrainConfig

    config = TrainConfig.from_settings(
        {"lr": 1e-3, "epochs": 5, "width": 2},
        {"lr": 3e-4},
        {"epochs": 2, "max_train_tracks": 40, "max_test_tracks": 10, "patience": 3},
        leave_out=("width",),
        threads=1,
    )
    assert (config.lr, config.epochs, config.patience, config.threads) == (3e-4, 2, 3, 1)
    assert config.extra == {}  # neither the architecture key nor the subset sizes


def test_xavier_init_covers_transposed_convolutions_in_module_order():
    torch = pytest.importorskip("torch")
    from genrebench.training import xavier_init

    def net():
        return torch.nn.Sequential(
            torch.nn.Conv2d(1, 4, 3), torch.nn.ConvTranspose2d(4, 2, 3), torch.nn.Linear(5, 3)
        )

    torch.manual_seed(0)
    a = net()
    torch.manual_seed(1)
    xavier_init(a)
    # Keras' glorot_uniform by hand, in the same order
    torch.manual_seed(0)
    b = net()
    torch.manual_seed(1)
    for m in b:
        torch.nn.init.xavier_uniform_(m.weight)
        torch.nn.init.zeros_(m.bias)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not a[1].bias.any()


def test_find_weight_file_takes_a_file_or_a_folder_holding_one(tmp_path):
    from genrebench.errors import ConfigError
    from genrebench.weights import file_digest, find_weight_file

    weights = tmp_path / "w_512.pth"
    weights.write_bytes(b"abc")
    names = ["w_512.pth", "w_6144.pth"]
    assert find_weight_file(str(weights), names, where="$W", needed="N") == weights
    assert find_weight_file(str(tmp_path), names, where="$W", needed="N") == weights
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"\$W=.* is a folder without w_512.pth: provide N"):
        find_weight_file(str(tmp_path / "empty"), names, where="$W", needed="N")
    with pytest.raises(ConfigError, match="does not exist: provide N"):
        find_weight_file(str(tmp_path / "nope"), names, where="$W", needed="N")
    # sha256("abc")
    assert file_digest(weights) == "ba7816bf8f01cfea"


def test_weights_setting_prefers_the_model_option(monkeypatch):
    from genrebench.weights import weights_setting

    monkeypatch.setenv("GB_W", " /from/env ")
    assert weights_setting("GB_W", "checkpoint", {"checkpoint": "/opt"}) == (
        "/opt",
        "model option checkpoint",
    )
    assert weights_setting("GB_W", "checkpoint", {}) == ("/from/env", "$GB_W")
    monkeypatch.delenv("GB_W")
    assert weights_setting("GB_W") is None


def test_the_plugins_hold_no_copy_of_the_toolkit():
    copies = ("def count_parameters", "def glorot_init", 'k.startswith("max_")')
    found = [
        f"{p.relative_to(ROOT)}: {c}"
        for p in PLUGIN_CODE
        for c in copies
        if c in p.read_text(encoding="utf-8")
    ]
    assert found == []
