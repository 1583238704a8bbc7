"""Spectrogram augmentation (genrebench.augment) and its use by the training loop: each
augmentation changes what it should and nothing else, is seeded, and is off whenever the
model is evaluated."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genrebench import ModelSetup
from genrebench.augment import SpectrogramAugment
from genrebench.errors import ConfigError
from genrebench.training import TorchClassifier, TrainConfig

N, BANDS, FRAMES = 64, 12, 40


def batch(seed: int = 0) -> torch.Tensor:
    """Values in [1, 2): never equal to the mask value 0, every frame different."""
    g = torch.Generator().manual_seed(seed)
    return 1.0 + torch.rand(N, BANDS, FRAMES, generator=g)


def run(aug: SpectrogramAugment, x: torch.Tensor, seed: int = 0) -> torch.Tensor:
    return aug(x, torch.Generator().manual_seed(seed))


# --------------------------------------------------------------------------- configuration
def test_from_config_off_unknown_keys_and_bad_values():
    assert SpectrogramAugment.from_config(None) is None
    assert SpectrogramAugment.from_config({}) is None
    aug = SpectrogramAugment.from_config(
        {"noise": 0.05, "time_shift": 0.1, "time_mask": 20, "freq_mask": 10}
    )
    assert aug == SpectrogramAugment(noise=0.05, time_shift=0.1, time_mask=20, freq_mask=10)
    assert aug.p == 0.5 and aug.mask_value == 0.0
    with pytest.raises(ConfigError, match=r"unknown key\(s\) \['nosie'\].*known keys: noise"):
        SpectrogramAugment.from_config({"nosie": 0.05})
    for bad in ({"noise": -1}, {"time_shift": 1.5}, {"time_mask": 2.5}, {"p": 2}):
        with pytest.raises(ConfigError, match="augment:"):
            SpectrogramAugment.from_config(bad)
    with pytest.raises(ConfigError, match="must be a mapping"):
        SpectrogramAugment.from_config(0.05)  # type: ignore[arg-type]


def test_nothing_to_do_returns_the_batch_itself():
    x = batch()
    assert run(SpectrogramAugment(), x) is x
    assert run(SpectrogramAugment(noise=1.0, p=0.0), x) is x


# --------------------------------------------------------------------------- each augmentation
def test_noise_changes_every_value_of_chosen_examples_only():
    x = batch()
    before = x.clone()
    out = run(SpectrogramAugment(noise=0.1, p=0.5), x)
    assert torch.equal(x, before)  # the input is left unchanged
    assert out.shape == x.shape and out.dtype == x.dtype
    diff = out - x
    changed = (diff != 0).flatten(1).all(dim=1)
    untouched = (diff == 0).flatten(1).all(dim=1)
    assert torch.all(changed | untouched)  # an example is either wholly noised or not at all
    assert 0 < int(changed.sum()) < N  # p = 0.5 picks some, not all
    noise = diff[changed]
    assert float(noise.mean()) == pytest.approx(0.0, abs=0.01)
    assert float(noise.std()) == pytest.approx(0.1, rel=0.05)


def test_time_shift_is_a_circular_shift_within_the_limit():
    x = batch()
    out = run(SpectrogramAugment(time_shift=0.25, p=1.0), x)
    limit = int(0.25 * FRAMES)
    shifts = []
    for original, shifted in zip(x, out, strict=True):
        matches = [
            s for s in range(-limit, limit + 1) if torch.equal(shifted, original.roll(s, -1))
        ]
        assert len(matches) == 1, "each example is its original rolled along time"
        shifts.append(matches[0])
    assert len(set(shifts)) > 3  # shifts are drawn per example
    # frequency content of each frame is kept: only the frame order changes
    assert torch.equal(out.sort(dim=-1).values, x.sort(dim=-1).values)


def _changed_positions(x: torch.Tensor, out: torch.Tensor, axis: int) -> list[list[int]]:
    other = tuple(a for a in (1, 2) if a != axis % 3)
    changed = (out != x).any(dim=other)  # (N, size along axis)
    return [torch.nonzero(row).flatten().tolist() for row in changed]


@pytest.mark.parametrize(
    ("key", "axis", "size"), [("time_mask", -1, FRAMES), ("freq_mask", -2, BANDS)]
)
def test_masks_blank_one_contiguous_band_of_their_axis_only(key, axis, size):
    width = 6
    x = batch()
    aug = SpectrogramAugment(**{key: width}, p=1.0, mask_value=0.0)
    out = run(aug, x)
    widths = []
    for example, positions in enumerate(_changed_positions(x, out, axis)):
        widths.append(len(positions))
        if positions:
            assert positions == list(range(positions[0], positions[-1] + 1))  # contiguous
            assert len(positions) <= width
        band = torch.zeros(size, dtype=torch.bool)
        band[positions] = True
        cells = (band[None, :] if axis == -1 else band[:, None]).expand(BANDS, FRAMES)
        assert torch.all(out[example][cells] == 0.0)  # the whole band, across the other axis
        assert torch.equal(out[example][~cells], x[example][~cells])  # nothing else changed
    assert max(widths) > 0 and len(set(widths)) > 2  # widths drawn per example in [0, width]


def test_mask_value_and_masks_wider_than_the_axis():
    x = batch()
    out = run(SpectrogramAugment(freq_mask=100, p=1.0, mask_value=-3.0), x)
    assert set(out[out != x].tolist()) == {-3.0}
    assert ((out == -3.0).all(dim=-1).sum(dim=-1) <= BANDS).all()


def test_combined_order_shift_then_noise_then_masks():
    x = batch()
    out = run(SpectrogramAugment(time_shift=0.1, noise=0.05, time_mask=5, freq_mask=3, p=1.0), x)
    # masked cells hold exactly the mask value: the noise was added before the masks
    assert (out == 0.0).any()
    assert torch.all((out == 0.0) | ((out - x).abs() > 0))


def test_freq_mask_needs_two_dimensional_examples():
    with pytest.raises(ConfigError, match="freq_mask needs 2-D examples"):
        run(SpectrogramAugment(freq_mask=3, p=1.0), torch.ones(4, 10))
    out = run(SpectrogramAugment(time_mask=3, p=1.0), torch.ones(4, 10))  # 1-D: time only
    assert out.shape == (4, 10)


# --------------------------------------------------------------------------- seeding
def test_seeded():
    aug = SpectrogramAugment(noise=0.05, time_shift=0.1, time_mask=8, freq_mask=4)
    x = batch()
    assert torch.equal(run(aug, x, seed=3), run(aug, x, seed=3))
    assert not torch.equal(run(aug, x, seed=3), run(aug, x, seed=4))
    # a generator moves on: two calls in a row give different batches
    g = torch.Generator().manual_seed(3)
    assert not torch.equal(aug(x, g), aug(x, g))


# --------------------------------------------------------------------------- training loop
class Spy(torch.nn.Module):
    """A linear classifier that records every input it sees and whether it was training."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(BANDS * FRAMES, 3)
        self.seen: list[tuple[bool, torch.Tensor]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen.append((self.training, x.detach().clone()))
        return self.linear(x.flatten(1))


def _setup(seed: int = 0) -> ModelSetup:
    return ModelSetup("single-label", ["a", "b", "c"], (BANDS, FRAMES), seed, "cpu", {}, {})


def _train(augment, x, y, xv, yv) -> Spy:
    spy = Spy()
    model = TorchClassifier(spy, _setup(), TrainConfig(epochs=2, batch_size=16, augment=augment))
    model.fit(x, y, xv, yv)
    spy.seen.append((None, None))  # marks the end of fit
    model.predict_proba(xv)
    return spy


def test_training_batches_are_augmented_evaluation_inputs_never():
    rng = np.random.default_rng(0)
    x = (1 + rng.random((48, BANDS, FRAMES))).astype(np.float32)
    y = np.arange(48) % 3
    xv = (1 + rng.random((9, BANDS, FRAMES))).astype(np.float32)
    yv = np.arange(9) % 3
    plain = _train(None, x, y, xv, yv)
    augmented = _train({"time_mask": 10, "freq_mask": 4, "p": 1.0}, x, y, xv, yv)
    assert len(plain.seen) == len(augmented.seen)
    train_rows = {tuple(r.flatten().tolist()) for r in torch.from_numpy(x)}
    for (mode_a, seen_a), (mode_b, seen_b) in zip(plain.seen, augmented.seen, strict=True):
        assert mode_a == mode_b
        if mode_a is None:
            continue
        if mode_a:  # a training batch: same examples in the same order, now masked
            assert all(tuple(r.flatten().tolist()) in train_rows for r in seen_a)
            assert (seen_b == 0).any() and not (seen_a == 0).any()
            assert torch.equal(seen_b[seen_b != 0], seen_a[seen_b != 0])
        else:  # validation loss and predictions: the data as given
            assert torch.equal(seen_a, seen_b)
            assert not (seen_b == 0).any()
    evaluated = [s for mode, s in augmented.seen if mode is False]
    assert torch.equal(evaluated[-1], torch.from_numpy(xv))  # predict_proba saw xv unchanged


def test_train_config_reads_augment_from_the_budget_and_checks_it():
    budget = {"epochs": 1, "augment": {"noise": 0.05, "time_mask": 20}}
    config = TrainConfig.from_budget(budget, lr=1e-3)
    assert config.augment == {"noise": 0.05, "time_mask": 20}
    assert "augment" not in config.extra
    assert TrainConfig.from_budget({}).augment is None
    with pytest.raises(ConfigError, match="unknown key"):
        TrainConfig.from_budget({"augment": {"mixup": 0.2}})


def test_augmented_training_is_reproducible():
    rng = np.random.default_rng(1)
    x = rng.random((32, BANDS, FRAMES)).astype(np.float32)
    y = np.arange(32) % 3
    probs = []
    for _ in range(2):
        config = TrainConfig(epochs=2, batch_size=8, augment={"noise": 0.1, "time_shift": 0.2})
        model = TorchClassifier(
            torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(BANDS * FRAMES, 3)),
            _setup(),
            config,
        )
        model.fit(x, y)
        probs.append(model.predict_proba(x))
    np.testing.assert_array_equal(probs[0], probs[1])
