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


# --------------------------------------------------------------------------- the report's kind
def test_flattened_roll_is_numpy_roll_of_the_whole_example():
    # pocelli2024's notebook: np.roll(data, shift) of a (bands, frames) array, no axis.
    x = torch.arange(24, dtype=torch.float32).view(2, 3, 4)
    for shift in (2, -5, 15):
        out = run(SpectrogramAugment(shifts=[shift], roll="flattened", p=1.0), x)
        for example in range(2):
            expected = np.roll(x[example].numpy(), shift)  # frames move into the next band
            np.testing.assert_array_equal(out[example].numpy(), expected)
    # row 1 of np.roll([[0 1 2 3] [4 5 6 7] [8 9 10 11]], 2) starts with row 0's last frames
    assert out.shape == x.shape
    two = run(SpectrogramAugment(shifts=[2], roll="flattened", p=1.0), x)
    assert two[0].tolist() == [[10.0, 11.0, 0.0, 1.0], [2.0, 3.0, 4.0, 5.0], [6.0, 7.0, 8.0, 9.0]]
    # roll="time" with the same list: each band on its own
    timed = run(SpectrogramAugment(shifts=[2], p=1.0), x)
    assert timed[0].tolist() == [[2.0, 3.0, 0.0, 1.0], [6.0, 7.0, 4.0, 5.0], [10.0, 11.0, 8.0, 9.0]]


def test_shifts_are_drawn_from_the_list():
    x = batch()
    allowed = [-45, -30, -15, 0, 15, 30, 45]  # the notebook's 15 * randint(-3, 4)
    out = run(SpectrogramAugment(shifts=allowed, p=1.0), x)
    seen = set()
    for original, shifted in zip(x, out, strict=True):
        matches = [s for s in allowed if torch.equal(shifted, original.roll(s, -1))]
        assert matches
        seen.add(matches[0] % FRAMES)
    assert len(seen) >= 5  # several of the seven drawn over 64 examples


def test_uniform_noise_is_non_negative_and_scaled():
    x = batch()
    out = run(SpectrogramAugment(noise=0.1, noise_kind="uniform", p=1.0), x)
    diff = out - x
    assert float(diff.min()) >= -1e-6 and float(diff.max()) < 0.1 + 1e-6
    assert float(diff.mean()) == pytest.approx(0.05, abs=0.005)  # 0.1 * U[0, 1)


def test_fixed_width_masks_several_per_example_with_the_notebooks_starts():
    # The notebook's time mask: 3 masks of exactly 12 frames, starts randint(0, frames - 12).
    frames, width, count = 40, 4, 3
    g = torch.Generator().manual_seed(0)
    x = 1.0 + torch.rand(2000, 2, frames, generator=g)
    aug = SpectrogramAugment(
        time_mask=width, time_masks=count, mask_width="fixed", time_mask_margin=width, p=1.0
    )
    out = run(aug, x)
    masked = (out != x).any(dim=1)  # (examples, frames)
    starts = set()
    for row in masked:
        runs_ = torch.nonzero(torch.diff(torch.cat([torch.zeros(1), row.float()])) == 1)
        frames_on = int(row.sum())
        assert width <= frames_on <= count * width  # 3 masks of 4, possibly overlapping
        starts.update(int(r) for r in runs_.flatten())
        assert not row[-1]  # a start is never beyond frames - 12 - 1: the last frame stays
    assert max(starts) == frames - width - 1 and min(starts) == 0


def test_mask_margin_below_the_width_lets_masks_run_past_the_edge():
    # The notebook's frequency mask: 2 masks of 20 bands, starts randint(0, bands - 10).
    bands, width = 12, 4
    g = torch.Generator().manual_seed(1)
    x = 1.0 + torch.rand(500, bands, 3, generator=g)
    aug = SpectrogramAugment(
        freq_mask=width, freq_masks=1, mask_width="fixed", freq_mask_margin=2, p=1.0
    )
    out = run(aug, x)
    masked = (out != x).any(dim=-1)  # (examples, bands)
    lengths = masked.sum(dim=1)
    starts = masked.float().argmax(dim=1)
    assert int(starts.max()) == bands - 2 - 1  # start 9: bands 9, 10, 11, cut at the edge
    assert set(lengths.tolist()) == {3, 4}  # start 9 is cut to 3 bands; the others whole
    assert torch.all(lengths[starts <= bands - width] == width)


def test_mask_value_min_is_the_examples_own_floor():
    x = batch()
    x[0] -= 5.0  # a quieter example has a lower floor
    out = run(SpectrogramAugment(time_mask=6, mask_value="min", p=1.0), x)
    for example in range(N):
        changed = out[example] != x[example]
        if changed.any():
            assert torch.all(out[example][changed] == x[example].min())
    assert (out[0] != x[0]).any()


def test_the_reports_augmentation_in_its_order():
    config = {
        "order": ["noise", "time_shift", "time_mask", "freq_mask"],
        "p": 0.35,
        "noise": 0.1,
        "noise_kind": "uniform",
        "shifts": [-45, -30, -15, 0, 15, 30, 45],
        "roll": "flattened",
        "time_mask": 12,
        "time_masks": 3,
        "time_mask_margin": 12,
        "freq_mask": 20,
        "freq_masks": 2,
        "freq_mask_margin": 10,
        "mask_width": "fixed",
        "mask_value": "min",
    }
    aug = SpectrogramAugment.from_config(config)
    assert aug.order == ("noise", "time_shift", "time_mask", "freq_mask")
    assert aug.shifts == (-45, -30, -15, 0, 15, 30, 45)
    x = torch.rand(16, 64, 64, generator=torch.Generator().manual_seed(2)) - 1.0  # [-1, 0)
    out = run(SpectrogramAugment(**{**config, "p": 1.0}), x)
    # noise first, then the masks take the noised clip's minimum: every example has cells at
    # exactly its minimum, masked whole frames (3 x 12) and whole bands (2 x 20, maybe cut)
    for example in out:
        floor = example.min()
        assert (example == floor).all(dim=0).sum() >= 12  # frames masked across every band
        assert (example == floor).all(dim=1).sum() >= 10  # bands masked across every frame
    # p = 0.35 per step: some examples get no noise, some do
    some = run(aug, torch.zeros(200, 8, 8))
    assert 0 < int((some > 0).flatten(1).any(dim=1).sum()) < 200


def test_the_new_settings_are_checked():
    for bad in (
        {"noise": 0.1, "noise_kind": "laplace"},
        {"time_shift": 0.1, "roll": "bands"},
        {"time_mask": 3, "mask_width": "wide"},
        {"time_mask": 3, "time_masks": 0},
        {"freq_mask": 3, "freq_mask_margin": -1},
        {"time_mask": 3, "mask_value": "max"},
        {"shifts": []},
        {"shifts": [1.5]},
        {"noise": 0.1, "order": ["noise", "time_shift"]},
    ):
        with pytest.raises(ConfigError, match="augment:"):
            SpectrogramAugment.from_config(bad)
    assert not SpectrogramAugment(shifts=[0], p=1.0).active  # a shift of 0 changes nothing
    with pytest.raises(ConfigError, match="roll needs 2-D examples"):
        run(SpectrogramAugment(shifts=[1], roll="flattened", p=1.0), torch.ones(4, 10))


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
