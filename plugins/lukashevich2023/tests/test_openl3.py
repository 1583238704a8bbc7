"""The OpenL3 port: shapes, the torchopenl3 weight-file format (a file this test writes),
and the errors that say which file to provide."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from genrebench_lukashevich2023 import openl3, weights
from genrebench_lukashevich2023.openl3 import OpenL3, load_weights, windows

from genrebench.errors import ConfigError

#: torchopenl3's PytorchOpenl3 state dict: names and shapes (mel256 / mel128 inputs).
CONV_SHAPES = {
    "conv2d_1": (64, 1, 3, 3),
    "conv2d_2": (64, 64, 3, 3),
    "conv2d_3": (128, 64, 3, 3),
    "conv2d_4": (128, 128, 3, 3),
    "conv2d_5": (256, 128, 3, 3),
    "conv2d_6": (256, 256, 3, 3),
    "conv2d_7": (512, 256, 3, 3),
    "audio_embedding_layer": (512, 512, 3, 3),
}
BN_SIZES = [1, 64, 64, 128, 128, 256, 256, 512]


def torchopenl3_state(n_mels: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """A random state dict in torchopenl3's format (as ``torch.save(model.state_dict())``
    of its PytorchOpenl3 writes it), built from names and shapes, not from our module."""
    g = torch.Generator().manual_seed(seed)
    state: dict[str, torch.Tensor] = {}
    real, imag = openl3.stft_kernels()
    state["speclayer.dft_real_kernels"] = torch.from_numpy(real)
    state["speclayer.dft_imag_kernels"] = torch.from_numpy(imag)
    state["speclayer.mel_basis"] = torch.rand(n_mels, 1025, generator=g) * 1e-3
    for i, size in enumerate(BN_SIZES, start=1):
        name = f"batch_normalization_{i}"
        state[f"{name}.weight"] = 1 + 0.1 * torch.randn(size, generator=g)
        state[f"{name}.bias"] = 0.1 * torch.randn(size, generator=g)
        state[f"{name}.running_mean"] = 0.1 * torch.randn(size, generator=g)
        state[f"{name}.running_var"] = 1 + torch.rand(size, generator=g)
        state[f"{name}.num_batches_tracked"] = torch.tensor(0)
    for name, shape in CONV_SHAPES.items():
        fan_in = shape[1] * 9
        state[f"{name}.weight"] = torch.randn(shape, generator=g) / fan_in**0.5
        state[f"{name}.bias"] = 0.01 * torch.randn(shape[0], generator=g)
    return state


def reference_forward(state: dict[str, torch.Tensor], x: torch.Tensor, pool) -> torch.Tensor:
    """torchopenl3's PytorchOpenl3.forward written out over a state dict (kapre-style
    mel spectrogram, then the layers in its order), to check our port's layer order."""
    pad = 2048 - 48000 % 242
    x = F.pad(x, (pad // 2, pad - pad // 2))
    real = F.conv1d(x, state["speclayer.dft_real_kernels"], stride=242)
    imag = F.conv1d(x, state["speclayer.dft_imag_kernels"], stride=242)
    mel = torch.sqrt(torch.matmul(state["speclayer.mel_basis"], real**2 + imag**2))
    db = 10 * torch.log(torch.clamp(mel, min=1e-10)) / np.log(10)
    db = torch.clamp(db - db.amax(dim=(1, 2), keepdim=True), min=-80).unsqueeze(1)

    def bn(h, i):
        n = f"batch_normalization_{i}"
        return F.batch_norm(
            h, state[f"{n}.running_mean"], state[f"{n}.running_var"],
            state[f"{n}.weight"], state[f"{n}.bias"], eps=1e-3,
        )  # fmt: skip

    def conv(h, name):
        return F.conv2d(F.pad(h, (1, 1, 1, 1)), state[f"{name}.weight"], state[f"{name}.bias"])

    h = bn(db, 1)
    for i in range(1, 8):
        h = F.relu(bn(conv(h, f"conv2d_{i}"), i + 1))
        if i in (2, 4, 6):
            h = F.max_pool2d(h, 2)
    h = F.max_pool2d(conv(h, "audio_embedding_layer"), pool)
    return h.swapaxes(1, 2).swapaxes(2, 3).reshape(len(h), -1)


@pytest.mark.parametrize(("input_repr", "n_mels"), [("mel128", 128), ("mel256", 256)])
def test_port_has_torchopenl3s_state_dict_and_shapes(input_repr, n_mels):
    net = OpenL3(input_repr).eval()
    expected = torchopenl3_state(n_mels)
    assert set(net.state_dict()) == set(expected)  # 59 entries
    assert {k: tuple(v.shape) for k, v in net.state_dict().items()} == {
        k: tuple(v.shape) for k, v in expected.items()
    }
    x = torch.from_numpy(windows(np.zeros(48000, np.float32) + 0.01, hop_seconds=0.5))
    assert x.shape == (2, 1, 48000)  # 1 s, centred: windows at -0.5 s and 0 s
    assert net.speclayer(x).shape == (2, 1, n_mels, 199)
    with torch.no_grad():
        assert net(x).shape == (2, 512)


def test_window_count_for_a_30_s_clip():
    assert windows(np.zeros(30 * 48000, np.float32), 0.5).shape == (60, 1, 48000)
    assert windows(np.zeros(30 * 48000, np.float32), 0.1).shape == (296, 1, 48000)
    assert windows(np.zeros(100, np.float32), 0.5).shape == (1, 1, 48000)
    with pytest.raises(ConfigError, match="hop"):
        windows(np.zeros(10, np.float32), 0.0)


def test_weight_file_in_torchopenl3_format_loads_and_is_used(tmp_path, monkeypatch):
    state = torchopenl3_state(256, seed=3)
    path = tmp_path / "torchopenl3_mel256_music_512.pth"
    torch.save(state, path)
    monkeypatch.setenv(weights.OPENL3_ENV_WEIGHTS, str(tmp_path))  # a folder holding it
    openl3.load_openl3.cache_clear()
    net = openl3.load_openl3("mel256")
    assert not net.training
    for key, value in state.items():
        torch.testing.assert_close(net.state_dict()[key], value)
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(48000 * 2)).astype(np.float32)
    emb = openl3.embed(audio, input_repr="mel256", hop_seconds=0.5)
    assert emb.shape == (512, 4) and np.isfinite(emb).all()
    with torch.no_grad():
        ref = reference_forward(state, torch.from_numpy(windows(audio, 0.5)), (32, 24))
    np.testing.assert_allclose(emb, ref.numpy().T, rtol=1e-4, atol=1e-4)
    openl3.load_openl3.cache_clear()


def test_without_weights_the_error_names_the_file_and_the_variable(monkeypatch, tmp_path):
    monkeypatch.delenv(weights.OPENL3_ENV_WEIGHTS, raising=False)
    openl3.load_openl3.cache_clear()
    with pytest.raises(ConfigError) as info:
        openl3.embed(np.zeros(48000, np.float32))
    message = str(info.value)
    assert "torchopenl3_mel256_music_512.pth" in message
    assert "GENREBENCH_OPENL3_WEIGHTS" in message
    monkeypatch.setenv(weights.OPENL3_ENV_WEIGHTS, str(tmp_path / "nope.pth"))
    with pytest.raises(ConfigError, match="does not exist"):
        openl3.load_openl3("mel256")
    monkeypatch.setenv(weights.OPENL3_ENV_WEIGHTS, str(tmp_path))
    with pytest.raises(ConfigError, match=r"folder without torchopenl3_mel256_music_512\.pth"):
        openl3.load_openl3("mel256")
    openl3.load_openl3.cache_clear()


def test_a_weight_file_that_does_not_fit_is_refused_with_the_reason(tmp_path):
    mel128 = tmp_path / "torchopenl3_mel128_music_512.pth"
    torch.save(torchopenl3_state(128), mel128)
    with pytest.raises(ConfigError, match=r"speclayer\.mel_basis \(128, 1025\) instead of"):
        load_weights(OpenL3("mel256"), mel128)
    partial = {k: v for k, v in torchopenl3_state(256).items() if "conv2d_7" not in k}
    partial["classifier.weight"] = torch.zeros(3)
    torch.save(partial, tmp_path / "partial.pth")
    with pytest.raises(ConfigError, match=r"missing: conv2d_7\.bias.*unexpected: classifier"):
        load_weights(OpenL3("mel256"), tmp_path / "partial.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(ConfigError, match="cannot read OpenL3 weights"):
        load_weights(OpenL3("mel256"), tmp_path / "junk.pth")
    with pytest.raises(ConfigError, match="input representation"):
        OpenL3("linear")
