"""Unit tests of the core's small parts: splits, segments, aggregation, cache, training."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from genrebench import Dataset, FeatureSpec, ModelSetup, Segments, SplitRequest, Track
from genrebench.aggregation import (
    AGGREGATIONS,
    aggregate_tracks,
    geometric_mean,
    get_aggregation,
    majority_vote,
    majority_vote_multilabel,
    max_probability,
    mean_probability,
)
from genrebench.cache import default_cache_dir
from genrebench.dataset import Split, small_classes_note, stratified_split
from genrebench.errors import ConfigError, UnknownNameError
from genrebench.features.cache import FeatureCache, feature_fingerprint
from genrebench.features.segments import cut, segment_frames, segment_offsets


def make_dataset(per_class: int = 20, classes=("a", "b", "c", "d")) -> Dataset:
    tracks = [
        Track(f"{c}{i:03d}", Path(f"/x/{c}{i}.wav"), (c,))
        for c in classes
        for i in range(per_class)
    ]
    fixed = {
        "official": {
            "train": [t.track_id for t in tracks[::2]],
            "test": [t.track_id for t in tracks[1::2]] + ["gone"],
        }
    }
    return Dataset(
        "toy", "single-label", list(classes), tracks, fixed_splits=fixed, default_split="official"
    )


# ---------------------------------------------------------------- splits
@pytest.mark.parametrize(
    ("ratios", "expected"),
    [
        ({"train": 0.75, "test": 0.25}, {"train": 60, "valid": 0, "test": 20}),
        ({"train": 0.7, "valid": 0.2, "test": 0.1}, {"train": 56, "valid": 16, "test": 8}),
        # 20 per class at 0.55/0.3/0.15 is 11/6/3 exactly; at 0.33/0.33/0.34 it is
        # 6.6/6.6/6.8: floors 6/6/6 and the two tracks left go to the largest remainders
        ({"train": 0.33, "valid": 0.33, "test": 0.34}, {"train": 28, "valid": 24, "test": 28}),
    ],
)
def test_stratified_split_counts_per_class_and_determinism(ratios, expected):
    ds = make_dataset()
    split = ds.split(SplitRequest("stratified", ratios), seed=3)
    assert {p: len(split.part(p)) for p in expected} == expected
    for part in ("train", "test"):
        per_class = {c: sum(t.startswith(c) for t in split.part(part)) for c in "abcd"}
        assert len(set(per_class.values())) == 1  # each class keeps its share
    assert split.train == ds.split(SplitRequest("stratified", ratios), seed=3).train
    assert split.train != ds.split(SplitRequest("stratified", ratios), seed=4).train
    assert not set(split.train) & set(split.test)


def test_fixed_split_drops_absent_ids_and_unknown_scheme_falls_back_with_note():
    ds = make_dataset()
    split = ds.split(SplitRequest("official"))
    assert "gone" not in split.test and len(split.test) == 40
    fallback = ds.split(SplitRequest("fault-filtered"))
    assert fallback.scheme == "official" and "no split scheme 'fault-filtered'" in fallback.note


def test_split_ratios_are_validated():
    with pytest.raises(ConfigError, match="sum to 1"):
        make_dataset().split(SplitRequest("stratified", {"train": 0.5, "test": 0.6}))
    with pytest.raises(ConfigError, match="parts among"):
        make_dataset().split(SplitRequest("stratified", {"training": 1.0}))


def test_dataset_rejects_labels_outside_its_classes_and_duplicate_ids():
    with pytest.raises(ConfigError, match="outside its class list"):
        Dataset("bad", "single-label", ["a"], [Track("1", Path("x"), ("b",))])
    with pytest.raises(ConfigError, match="duplicate"):
        Dataset("bad", "single-label", ["a"], [Track("1", Path("x"), ("a",))] * 2)


def test_multilabel_label_matrix():
    ds = Dataset(
        "m",
        "multi-label",
        ["x", "y", "z"],
        [Track("1", Path("1"), ("x", "z")), Track("2", Path("2"), ("y",))],
    )
    np.testing.assert_array_equal(ds.label_matrix(["2", "1"]), [[0, 1, 0], [1, 0, 1]])


# ---------------------------------------------------------------- segments
FRAMED = FeatureSpec("f", lambda a, sr: a, sample_rate=100, frames_per_second=10.0)


def test_segments_are_seeded_per_track_and_padded():
    arrays = [np.arange(200, dtype=np.float32).reshape(2, 100), np.ones((2, 3), np.float32)]
    seg = Segments(length_seconds=2.0, train_count=4, test_count=4)
    x, owner = cut(arrays, ["t1", "t2"], seg, FRAMED, 4, seed=7)
    assert x.shape == (8, 2, 20) and owner.tolist() == [0] * 4 + [1] * 4
    assert np.all(x[4:, :, 3:] == 0)  # the short track is zero-padded
    again, _ = cut(arrays[:1], ["t1"], seg, FRAMED, 4, seed=7)
    np.testing.assert_array_equal(again, x[:4])  # same track, same offsets, whatever else
    other, _ = cut(arrays[:1], ["t1"], seg, FRAMED, 4, seed=8)
    assert not np.array_equal(other, x[:4])


def test_every_nonoverlapping_segment_and_track_level_features():
    x, _ = cut(
        [np.zeros((1, 95))],
        ["t"],
        Segments(length_frames=30, train_count=None),
        FRAMED,
        None,
        seed=0,
    )
    assert x.shape == (3, 1, 30)
    track_level = FeatureSpec("g", lambda a, sr: a, sample_rate=100)
    x, _ = cut([np.zeros(5), np.ones(5)], ["a", "b"], Segments(), track_level, 1, seed=0)
    assert x.shape == (2, 5)
    with pytest.raises(ConfigError, match="track-level"):
        cut([np.zeros(5)], ["a"], Segments(length_seconds=1.0), track_level, 1, seed=0)


def test_every_segment_at_a_hop_overlaps():
    # 3 s patches with a 1 s hop at 10 frames/s: starts 0, 10, ..., up to the last that fits
    track = np.arange(95, dtype=np.float32).reshape(1, 95)
    seg = Segments(length_seconds=3.0, hop_seconds=1.0, train_count=None, test_count=None)
    x, owner = cut([track], ["t"], seg, FRAMED, None, seed=0)
    assert x.shape == (7, 1, 30) and owner.tolist() == [0] * 7
    assert [int(s[0, 0]) for s in x] == [0, 10, 20, 30, 40, 50, 60]
    x, _ = cut(
        [track], ["t"], Segments(length_frames=30, hop_frames=25, train_count=None), FRAMED, None, 0
    )
    assert [int(s[0, 0]) for s in x] == [0, 25, 50]
    short, _ = cut([np.ones((1, 12))], ["s"], seg, FRAMED, None, seed=0)
    assert short.shape == (1, 1, 30)  # padded to one segment
    with pytest.raises(ConfigError, match="at least one frame"):
        cut(
            [track],
            ["t"],
            Segments(length_frames=30, hop_frames=0, train_count=None),
            FRAMED,
            None,
            0,
        )


# ---------------------------------------------------------------- aggregation
def test_mean_is_normalised_sum_and_vote_breaks_ties_by_summed_probability():
    p = np.array([[0.6, 0.4, 0.0], [0.1, 0.9, 0.0], [0.7, 0.1, 0.2], [0.2, 0.8, 0.0]])
    np.testing.assert_allclose(mean_probability(p), p.sum(axis=0) / 4)
    # 2 votes each for class 0 and 1; class 1 has the larger summed probability (2.2 > 1.6)
    assert majority_vote(p).argmax() == 1
    tie = np.array([[0.5, 0.5], [0.5, 0.5]])  # same votes, same sums: lowest index
    assert majority_vote(tie).argmax() == 0
    np.testing.assert_allclose(majority_vote(p).sum(), 1.0)


def test_aggregate_tracks_groups_segments_by_owner():
    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    owner = np.array([1, 0, 1, 0])
    out = aggregate_tracks(probs, owner, 2, "mean", "single-label")
    np.testing.assert_allclose(out, [[0.25, 0.75], [0.75, 0.25]])
    with pytest.raises(UnknownNameError):
        aggregate_tracks(probs, owner, 2, "median-ish", "single-label")


# ---------------------------------------------------------------- cache
WRITE_ENTRY = """
import sys
from pathlib import Path
import numpy as np
from genrebench import FeatureSpec
from genrebench.features.cache import FeatureCache
spec = FeatureSpec("f", print, sample_rate=1)
cache = FeatureCache(Path(sys.argv[1]))
for _ in range(50):
    cache.put("ab" * 32, spec, np.full((64, 64), 1.0, dtype=np.float32))
"""


def test_concurrent_cache_writes_never_leave_a_partial_file(tmp_path):
    writers = [
        subprocess.Popen([sys.executable, "-c", WRITE_ENTRY, str(tmp_path)]) for _ in range(2)
    ]
    assert [w.wait(120) for w in writers] == [0, 0]
    files = list(tmp_path.rglob("*.npy"))
    assert len(files) == 1 and not list(tmp_path.rglob(".tmp-*"))
    assert np.load(files[0]).shape == (64, 64)


def test_cache_key_changes_with_content_and_feature_version(tmp_path):
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"one")
    cache = FeatureCache(tmp_path / "c")
    v1 = FeatureSpec("f", lambda a, sr: a, sample_rate=1, version="1")
    v2 = FeatureSpec("f", lambda a, sr: a, sample_rate=1, version="2")
    first = cache.key(audio, v1)
    assert first != cache.key(audio, v2)
    audio.write_bytes(b"two!")
    assert first != cache.key(audio, v1)


# ---------------------------------------------------------------- training loop
def test_training_lowers_the_loss_and_predicts_probabilities():
    import torch

    from genrebench.training import TorchClassifier, TrainConfig

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    setup = ModelSetup("single-label", ["n", "p"], (8,), seed=0, device="cpu", params={}, budget={})
    model = TorchClassifier(torch.nn.Linear(8, 2), setup, TrainConfig(epochs=20, lr=0.05))
    before = model.loss_on(x, y)
    model.fit(x, y)
    assert model.loss_on(x, y) < before
    probs = model.predict_proba(x)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-6)


def test_the_training_history_records_the_accuracy_of_each_epoch_as_trained():
    import torch

    from genrebench.training import TorchClassifier, TrainConfig

    rng = np.random.default_rng(0)
    x = rng.standard_normal((64, 8)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    setup = ModelSetup("single-label", ["n", "p"], (8,), seed=0, device="cpu", params={}, budget={})
    # One full batch and lr 0: the epoch's accuracy is the untrained model's on all of x.
    model = TorchClassifier(
        torch.nn.Linear(8, 2), setup, TrainConfig(epochs=1, lr=0.0, batch_size=64)
    )
    expected = float(np.mean(model.predict_proba(x).argmax(axis=1) == y))
    model.fit(x, y)
    assert model.history[0]["train_accuracy"] == pytest.approx(expected)
    # Multi-label models have no single accuracy to record.
    multi = ModelSetup("multi-label", ["a", "b"], (8,), 0, "cpu", {}, {})
    model = TorchClassifier(torch.nn.Linear(8, 2), multi, TrainConfig(epochs=1))
    model.fit(x, np.stack([y, 1 - y], axis=1))
    assert "train_accuracy" not in model.history[0]


def test_early_stopping_needs_validation_data_and_restores_best_weights():
    import torch

    from genrebench.training import TorchClassifier, TrainConfig

    rng = np.random.default_rng(1)
    x = rng.standard_normal((32, 4)).astype(np.float32)
    y = (rng.random((32, 3)) > 0.5).astype(int)
    setup = ModelSetup("multi-label", ["a", "b", "c"], (4,), 0, "cpu", {}, {})
    config = TrainConfig(epochs=30, lr=0.1, patience=2)
    model = TorchClassifier(torch.nn.Linear(4, 3), setup, config)
    with pytest.raises(ConfigError, match="validation"):
        model.fit(x, y)
    model.fit(x[:16], y[:16], x[16:], y[16:])
    losses = [h["valid_loss"] for h in model.history]
    assert len(losses) < 30  # stopped early: random labels cannot be learned
    assert model.loss_on(x[16:], y[16:]) == pytest.approx(min(losses), rel=1e-5)


def test_torch_threads_are_capped_during_fit_and_predict_then_restored():
    import torch

    from genrebench.training import TorchClassifier, TrainConfig

    before = torch.get_num_threads()
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = np.arange(16) % 2
    setup = ModelSetup("single-label", ["a", "b"], (4,), 0, "cpu", {}, {})
    for threads, expected in ((1, 1), (None, before)):
        seen: list[int] = []
        config = TrainConfig(epochs=1, threads=threads)
        model = TorchClassifier(torch.nn.Linear(4, 2), setup, config)
        model.module.register_forward_hook(
            lambda *_, seen=seen: seen.append(torch.get_num_threads())
        )
        model.fit(x, y)
        model.predict_proba(x)
        assert set(seen) == {expected}
        assert torch.get_num_threads() == before


def test_l1_penalty_adds_its_subgradient_to_every_parameter():
    import torch

    from genrebench.training import TorchClassifier, TrainConfig, l1_norm

    rng = np.random.default_rng(2)
    x = rng.standard_normal((8, 4)).astype(np.float32)
    y = np.arange(8) % 3
    setup = ModelSetup("single-label", ["a", "b", "c"], (4,), 0, "cpu", {}, {})

    def one_step(l1: float) -> list[torch.Tensor]:
        # plain SGD without momentum: the step is exactly -lr * gradient
        config = TrainConfig(epochs=1, batch_size=8, lr=0.1, optimizer="sgd", l1=l1)
        config.extra["momentum"] = 0.0
        torch.manual_seed(0)
        model = TorchClassifier(torch.nn.Linear(4, 3), setup, config)
        start = [p.detach().clone() for p in model.module.parameters()]
        model.fit(x, y)
        return start, [p.detach().clone() for p in model.module.parameters()], model

    start, plain, _ = one_step(0.0)
    start_l1, penalised, model = one_step(0.5)
    for s0, s1 in zip(start, start_l1, strict=True):
        torch.testing.assert_close(s0, s1)  # same initial weights
    for s, a, b in zip(start, plain, penalised, strict=True):
        # weights and biases alike move by an extra -lr * l1 * sign(p)
        torch.testing.assert_close(b - a, -0.1 * 0.5 * torch.sign(s))
    assert model.history[0]["l1_penalty"] == pytest.approx(
        0.5 * l1_norm(model.module).item(), rel=1e-6
    )
    with pytest.raises(ConfigError, match="l1"):
        TrainConfig.from_budget({}, l1=-1.0)


def test_training_runs_with_deterministic_algorithms_then_restores_the_setting():
    import torch

    from genrebench.training import TorchClassifier, TrainConfig

    before = torch.are_deterministic_algorithms_enabled()
    x = np.random.default_rng(0).standard_normal((16, 4)).astype(np.float32)
    y = np.arange(16) % 2
    setup = ModelSetup("single-label", ["a", "b"], (4,), 0, "cpu", {}, {})
    for flag in (True, False):
        seen: list[bool] = []
        model = TorchClassifier(torch.nn.Linear(4, 2), setup, TrainConfig(epochs=1))
        model.config.deterministic = flag
        model.module.register_forward_hook(
            lambda *_, seen=seen: seen.append(torch.are_deterministic_algorithms_enabled())
        )
        model.fit(x, y)
        assert set(seen) == {flag}
        assert torch.are_deterministic_algorithms_enabled() == before


def test_multilabel_stratified_split_keeps_every_tags_share():
    rng = np.random.default_rng(0)
    tags = [f"t{i}" for i in range(8)]
    weights = np.linspace(1, 0.1, 8)
    tracks = []
    for i in range(400):
        chosen = rng.choice(8, size=rng.integers(1, 4), replace=False, p=weights / weights.sum())
        tracks.append(Track(f"{i:04d}", Path(f"{i}.wav"), tuple(tags[j] for j in chosen)))
    ds = Dataset("ml", "multi-label", tags, tracks)
    ratios = {"train": 0.72, "valid": 0.18, "test": 0.10}
    split = ds.split(SplitRequest("stratified", ratios), seed=0)
    assert sorted(split.train + split.valid + split.test) == sorted(t.track_id for t in tracks)
    assert abs(len(split.test) - 40) <= 6  # sizes bend a little to keep the tag shares
    totals = ds.label_matrix([t.track_id for t in tracks]).sum(axis=0)
    for part, share in ratios.items():
        counts = ds.label_matrix(split.part(part)).sum(axis=0)
        # every tag within one track of its exact share
        assert np.all(np.abs(counts - share * totals) <= 1.5), (part, counts, share * totals)
    assert split.test == ds.split(SplitRequest("stratified", ratios), seed=0).test


# ---------------------------------------------------------------- pinned behaviour: splits
def tracks_of(per_class: int, classes: str = "abcd") -> list[Track]:
    return [Track(f"{c}{i}", Path(f"{c}{i}.wav"), (c,)) for c in classes for i in range(per_class)]


def part_sizes(parts, prefix: str = "") -> dict[str, int]:
    return {p: sum(t.startswith(prefix) for t in ids) for p, ids in parts.items()}


def test_stratified_split_rounds_by_largest_remainder():
    # 7 per class at 0.5/0.25/0.25 is 3.5/1.75/1.75: floors 3/1/1, the two tracks left go
    # to the largest remainders (0.75 and 0.75), not to train.
    parts = stratified_split(tracks_of(7), {"train": 0.5, "valid": 0.25, "test": 0.25}, 3)
    assert part_sizes(parts) == {"train": 12, "valid": 8, "test": 8}
    for c in "abcd":
        assert part_sizes(parts, c) == {"train": 3, "valid": 2, "test": 2}
    # 0.6/0.2/0.2 of 7 is 4.2/1.4/1.4: floors 4/1/1, one track left; the largest
    # remainders tie (valid and test, 0.4), and the tie goes by part order: test first here
    parts = stratified_split(tracks_of(7), {"test": 0.2, "train": 0.6, "valid": 0.2}, 0)
    assert part_sizes(parts, "a") == {"train": 4, "valid": 1, "test": 2}


def test_a_zero_ratio_part_stays_empty_and_gets_no_remainder():
    parts = stratified_split(tracks_of(7), {"train": 0.8, "valid": 0.0, "test": 0.2}, 3)
    assert parts["valid"] == []
    assert part_sizes(parts, "a") == {"train": 6, "valid": 0, "test": 1}
    parts = stratified_split(tracks_of(7), {"train": 1.0, "test": 0.0}, 0)
    assert len(parts["train"]) == 28 and parts["test"] == []


def test_stratified_split_places_each_track_the_same_way_for_a_seed():
    parts = stratified_split(tracks_of(5, "ab"), {"train": 0.6, "valid": 0.2, "test": 0.2}, 0)
    assert parts == {
        "train": ["a2", "a4", "a3", "b4", "b1", "b2"],
        "valid": ["a0", "b0"],
        "test": ["a1", "b3"],
    }
    shuffled = list(reversed(tracks_of(5, "ab")))  # input order does not matter
    assert stratified_split(shuffled, {"train": 0.6, "valid": 0.2, "test": 0.2}, 0) == parts


def test_multilabel_tracks_without_tags_are_kept_in_the_split():
    def ml(*specs):
        return [Track(f"t{i}", Path(f"{i}.wav"), tags) for i, tags in enumerate(specs)]

    ratios = {"train": 0.5, "test": 0.5}
    several = ml(("x", "y"), (), ("y",), (), ("x",), ("x", "y"))  # iterative stratification
    parts = stratified_split(several, ratios, 0)
    assert parts == {"train": ["t5", "t4", "t1"], "valid": [], "test": ["t0", "t2", "t3"]}
    one_each = ml(("x",), (), ("y",), ())  # at most one tag each: by class, "" for none
    parts = stratified_split(one_each, ratios, 0)
    assert parts == {"train": ["t0", "t1", "t2"], "valid": [], "test": ["t3"]}


def test_split_ratios_must_not_be_negative_or_empty():
    with pytest.raises(ConfigError, match=">= 0 and sum to 1"):
        stratified_split(tracks_of(2), {"train": 1.2, "test": -0.2}, 0)
    with pytest.raises(ConfigError, match="parts among"):
        stratified_split(tracks_of(2), {}, 0)


# ---------------------------------------------------------------- pinned behaviour: segments
def test_even_placement_spreads_segments_from_start_to_end():
    rng = np.random.default_rng(0)
    assert segment_offsets(100, 20, 5, "even", rng).tolist() == [0, 20, 40, 60, 80]
    assert segment_offsets(100, 20, 5, "even", rng).dtype.kind == "i"  # frame indices
    assert segment_offsets(100, 20, 3, "even", rng).tolist() == [0, 40, 80]
    assert segment_offsets(10, 20, 2, "even", rng).tolist() == [0, 0]  # shorter: padded
    x, owner = cut(
        [np.arange(30, dtype=np.float32)[None]],
        ["t"],
        Segments(length_frames=10, train_count=3, placement="even"),
        FRAMED,
        3,
        seed=0,
    )
    assert x[:, 0, 0].tolist() == [0.0, 10.0, 20.0] and owner.tolist() == [0, 0, 0]


def test_random_placement_is_sorted_inside_the_track_and_seeded():
    offsets = segment_offsets(100, 10, 4, "random", np.random.default_rng([0, 5]))
    assert offsets.tolist() == [34, 49, 63, 75]
    many = segment_offsets(25, 10, 200, "random", np.random.default_rng(1))
    assert many.min() == 0 and many.max() == 15 and np.all(np.diff(many) >= 0)
    x, _ = cut(
        [np.arange(30, dtype=np.float32)[None]],
        ["t"],
        Segments(length_frames=10, train_count=3),
        FRAMED,
        3,
        seed=0,
    )
    assert x[:, 0, 0].tolist() == [2.0, 9.0, 14.0]


def test_every_segment_offsets_and_unknown_placement():
    rng = np.random.default_rng(0)
    assert segment_offsets(95, 30, None, "random", rng).tolist() == [0, 30, 60]
    assert segment_offsets(90, 30, None, "even", rng).tolist() == [0, 30, 60]
    assert segment_offsets(10, 30, None, "random", rng).tolist() == [0]
    with pytest.raises(ConfigError, match="one of 'random', 'even', 'start', got 'middle'"):
        segment_offsets(100, 10, 2, "middle", rng)


def test_start_placement_takes_the_first_count_hop_spaced_segments():
    rng = np.random.default_rng(0)
    # yan2023's windows: 18 of 1 s, one every 1.5 s from the start of a 30 s clip (frames
    # of 0.1 s here): starts 0, 1.5, ..., 25.5 s, where "every one that fits" gives 20.
    starts = segment_offsets(300, 10, 18, "start", rng, hop=15)
    assert starts.tolist() == list(range(0, 256, 15)) and len(starts) == 18
    assert len(segment_offsets(300, 10, None, "start", rng, hop=15)) == 20
    assert segment_offsets(40, 10, 18, "start", rng, hop=15).tolist() == [0, 15, 30]  # short
    assert segment_offsets(5, 10, 18, "start", rng, hop=15).tolist() == [0]  # padded
    assert segment_offsets(100, 10, 3, "start", rng).tolist() == [0, 10, 20]  # hop = length
    seg = Segments(length_frames=2, hop_frames=3, train_count=2, placement="start")
    x, owner = cut([np.arange(12, dtype=np.float32)[None]], ["t"], seg, FRAMED, 2, seed=5)
    assert x[:, 0].tolist() == [[0.0, 1.0], [3.0, 4.0]] and owner.tolist() == [0, 0]


def test_a_short_track_keeps_its_frames_first_then_zeros():
    short = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]], dtype=np.float32)
    seg = Segments(length_frames=5, train_count=2, test_count=2)
    x, _ = cut([short], ["t"], seg, FRAMED, 2, seed=3)
    expected = [[1, 2, 3, 0, 0], [4, 5, 6, 0, 0]]
    assert x.shape == (2, 2, 5) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0], expected)
    np.testing.assert_array_equal(x[1], expected)  # one segment's room: both start at 0
    x, _ = cut([short], ["t"], Segments(length_frames=5, train_count=None), FRAMED, None, 0)
    np.testing.assert_array_equal(x, [expected])


def test_segment_lengths_in_frames_and_seconds():
    assert segment_frames(Segments(length_frames=7), FRAMED) == 7
    assert segment_frames(Segments(length_seconds=2.0), FRAMED) == 20
    assert segment_frames(Segments(length_seconds=0.26), FRAMED) == 3  # rounded
    assert segment_frames(Segments(length_seconds=0.01), FRAMED) == 1  # never 0
    assert segment_frames(Segments(), FRAMED) is None
    x, _ = cut([np.arange(4, dtype=np.float32)[None]], ["t"], Segments(length_seconds=0.01),
               FRAMED, None, seed=0)  # fmt: skip
    assert x[:, 0, 0].tolist() == [0.0, 1.0, 2.0, 3.0]


def test_track_level_arrays_of_different_shapes_are_refused():
    track_level = FeatureSpec("g", lambda a, sr: a, sample_rate=100)
    with pytest.raises(ConfigError, match=r"different shapes \[\(4,\), \(5,\)\]"):
        cut([np.zeros(5), np.zeros(4)], ["a", "b"], Segments(), track_level, 1, seed=0)
    x, owner = cut([np.zeros(5), np.ones(5)], ["a", "b"], Segments(), track_level, 1, seed=0)
    assert x.dtype == np.float32 and owner.tolist() == [0, 1]


def test_a_hop_in_seconds_needs_a_time_varying_feature():
    track_level = FeatureSpec("g", lambda a, sr: a, sample_rate=100)
    seg = Segments(length_frames=2, hop_seconds=1.0, train_count=None)
    with pytest.raises(ConfigError) as error:
        cut([np.zeros((1, 4))], ["t"], seg, track_level, None, seed=0)
    assert str(error.value) == "a segment hop in seconds needs a time-varying feature: 'g'"


# ---------------------------------------------------------------- pinned behaviour: aggregation
SEGMENTS = np.array([[0.6, 0.3, 0.1], [0.1, 0.8, 0.1], [0.5, 0.2, 0.3]])


def test_max_takes_each_class_largest_probability():
    np.testing.assert_allclose(max_probability(SEGMENTS), [0.6, 0.8, 0.3])
    out = aggregate_tracks(SEGMENTS, np.zeros(3, int), 1, "max", "single-label")
    np.testing.assert_allclose(out, [[0.6 / 1.7, 0.8 / 1.7, 0.3 / 1.7]])  # renormalised


def test_geometric_mean_is_the_normalised_product_of_experts():
    expected = np.prod(SEGMENTS, axis=0) ** (1 / 3)
    np.testing.assert_allclose(geometric_mean(SEGMENTS), expected / expected.sum())
    with_zero = np.array([[1.0, 0.0], [0.5, 0.5]])
    out = geometric_mean(with_zero)  # a zero is clipped to 1e-12, not -inf
    assert np.all(np.isfinite(out)) and out[1] == pytest.approx(1e-6, rel=1e-3)
    assert geometric_mean(np.array([[0.2, 0.8]], np.float32)).dtype == np.float64


def test_aggregations_return_float64_class_vectors():
    p32 = SEGMENTS.astype(np.float32)
    for name, fn in AGGREGATIONS.items():
        out = fn(p32)
        assert out.shape == (3,) and out.dtype == np.float64, name
    assert sorted(AGGREGATIONS) == ["geometric", "max", "mean", "vote"]
    assert get_aggregation("geometric") is geometric_mean


def test_vote_shares_sum_to_one_and_break_ties():
    shares = majority_vote(SEGMENTS)
    np.testing.assert_allclose(shares, [2 / 3, 1 / 3, 0.0], atol=1e-8)
    assert shares.sum() == pytest.approx(1.0) and shares.argmax() == 0
    tie = np.array([[0.6, 0.4, 0.0], [0.3, 0.7, 0.0]])  # one vote each: 0.9 vs 1.1 summed
    assert majority_vote(tie).argmax() == 1 and majority_vote(tie[::-1]).argmax() == 1


def test_multilabel_vote_counts_segments_at_or_above_one_half_without_renormalising():
    probs = np.array([[0.5, 0.1, 0.9], [0.4, 0.2, 0.6], [0.7, 0.3, 0.8], [0.2, 0.9, 0.1]])
    owner = np.array([0, 0, 0, 1])
    out = aggregate_tracks(probs, owner, 2, "vote", "multi-label")
    np.testing.assert_allclose(out, [[2 / 3, 0.0, 1.0], [0.0, 1.0, 0.0]])
    mean = aggregate_tracks(probs, owner, 2, "mean", "multi-label")
    np.testing.assert_allclose(mean[0], probs[:3].mean(axis=0))  # rows do not sum to one
    assert mean[0].sum() == pytest.approx(1.5)
    np.testing.assert_allclose(
        majority_vote_multilabel(probs[:3], threshold=0.7), [1 / 3, 0, 2 / 3]
    )


def test_single_label_results_are_renormalised():
    probs = np.array([[0.2, 0.2], [0.9, 0.1]])
    out = aggregate_tracks(probs, np.array([0, 1]), 2, "max", "single-label")
    np.testing.assert_allclose(out, [[0.5, 0.5], [0.9, 0.1]])
    np.testing.assert_allclose(out.sum(axis=1), 1.0)


def test_a_track_without_segments_is_an_error():
    with pytest.raises(ValueError, match="track row 1 has no segments"):
        aggregate_tracks(SEGMENTS, np.array([0, 0, 2]), 3, "mean", "single-label")
    with pytest.raises(ValueError, match="track row 2 has no segments"):
        aggregate_tracks(SEGMENTS, np.array([0, 1, 1]), 3, "mean", "single-label")


def test_an_unknown_aggregation_is_named_with_the_known_ones():
    with pytest.raises(UnknownNameError) as error:
        get_aggregation("median")
    assert str(error.value) == (
        "unknown aggregation 'median'. Did you mean 'mean'? "
        "Known aggregations: geometric, max, mean, vote"
    )


def test_vote_tie_break_survives_many_segments_and_float32_sums():
    # 5,000 votes each; class 1 has the larger summed probability.  The winner's bonus is
    # added to shares (at most 1), so it is not lost in rounding however many segments.
    p = np.tile([[0.51, 0.49]], (10_000, 1))
    p[5_000:] = [0.2, 0.8]
    assert majority_vote(p).argmax() == 1
    # float32 model outputs: one vote each, class sums 1.0 and 1 + 2**-30, which float32
    # would round to a tie (and so to class 0); the sums are taken in float64
    p32 = np.array([[0.5, 1.0], [0.5, 2.0**-30]], dtype=np.float32)
    assert majority_vote(p32).argmax() == 1


def test_each_rule_sees_a_tracks_segments_in_their_original_order(monkeypatch):
    # an order-dependent rule (a temporal one, say) must get a track's segments in the
    # order they were cut, however the tracks' segments are interleaved
    seen = []

    def first_segment(p):
        seen.append(p.copy())
        return p[0]

    monkeypatch.setitem(AGGREGATIONS, "first", first_segment)
    rng = np.random.default_rng(0)
    owner = rng.integers(0, 2, 200)
    probs = rng.random((200, 3))
    out = aggregate_tracks(probs, owner, 2, "first", "multi-label")
    for t in (0, 1):
        np.testing.assert_array_equal(seen[t], probs[owner == t])
        np.testing.assert_array_equal(out[t], probs[owner == t][0])


# ---------------------------------------------------------------- pinned behaviour: cache
def test_cache_dir_comes_from_the_environment_or_the_home_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("GENREBENCH_CACHE_DIR", str(tmp_path / "shared"))
    assert default_cache_dir() == tmp_path / "shared"
    monkeypatch.setenv("GENREBENCH_CACHE_DIR", "")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "genrebench" / "features"
    monkeypatch.delenv("GENREBENCH_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "genrebench" / "features"


def test_cache_key_ignores_parameter_order_but_not_values(tmp_path):
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"audio")
    cache = FeatureCache(tmp_path / "c")

    def spec(params, name="f", sample_rate=1):
        return FeatureSpec(name, lambda a, sr: a, sample_rate=sample_rate, params=params)

    first = cache.key(audio, spec({"n_mels": 80, "hop": 256}))
    assert first == cache.key(audio, spec({"hop": 256, "n_mels": 80}))
    assert len(first) == 64 and int(first, 16) >= 0
    others = {
        cache.key(audio, spec({"n_mels": 96, "hop": 256})),
        cache.key(audio, spec({"n_mels": 80, "hop": 256}, name="g")),
        cache.key(audio, spec({"n_mels": 80, "hop": 256}, sample_rate=2)),
        cache.key(audio, spec({"n_mels": 80, "hop": 256}), source="asset:image"),
    }
    assert first not in others and len(others) == 4
    same_bytes = tmp_path / "moved.wav"
    same_bytes.write_bytes(b"audio")
    assert cache.key(same_bytes, spec({"hop": 256, "n_mels": 80})) == first


def test_cache_entries_live_under_the_feature_name_and_key_prefix(tmp_path):
    cache = FeatureCache(tmp_path)
    spec = FeatureSpec("plugin/feature", lambda a, sr: a, sample_rate=1)
    cache.put("ab" + "0" * 62, spec, np.arange(3, dtype=np.float32))
    (entry,) = tmp_path.rglob("*.npy")
    assert entry.relative_to(tmp_path).as_posix() == f"plugin__feature/ab/ab{'0' * 62}.npy"
    assert cache.get("ab" + "0" * 62, spec).tolist() == [0.0, 1.0, 2.0]
    assert cache.get("cd" + "0" * 62, spec) is None and (cache.hits, cache.misses) == (1, 1)
    disabled = FeatureCache(None)
    assert not disabled.enabled and disabled.get("ab", spec) is None
    disabled.put("ab", spec, np.zeros(2, np.float32))  # nothing to write, no error


def test_a_failed_cache_write_leaves_no_temporary_file(tmp_path):
    cache = FeatureCache(tmp_path)
    spec = FeatureSpec("f", lambda a, sr: a, sample_rate=1)
    with pytest.raises(ValueError):  # object arrays need pickle, which the cache refuses
        cache.put("ab" * 32, spec, np.array([{"a": 1}], dtype=object))
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == []
    assert cache.get("ab" * 32, spec) is None


def test_cache_key_recipe_is_stable(tmp_path):
    """The key is sha256(blake2b(file)[:32] + "\\n" + fingerprint [+ "\\nsource=..."]):
    changing it would silently invalidate every user's cache."""
    import hashlib
    import json

    audio = tmp_path / "a.wav"
    audio.write_bytes(b"some audio bytes")
    spec = FeatureSpec("f", lambda a, sr: a, sample_rate=22050, params={"b": 2, "a": 1})
    digest = hashlib.blake2b(b"some audio bytes").hexdigest()[:32]
    fingerprint = json.dumps(
        {"name": "f", "params": {"a": 1, "b": 2}, "sample_rate": 22050, "version": "1"},
        sort_keys=True,
    )
    assert feature_fingerprint(spec) == fingerprint
    cache = FeatureCache(tmp_path / "c")
    text = f"{digest}\n{fingerprint}"
    assert cache.key(audio, spec) == hashlib.sha256(text.encode()).hexdigest()
    assert cache.key(audio, spec, "audio") == cache.key(audio, spec)
    asset = hashlib.sha256(f"{text}\nsource=asset:image".encode()).hexdigest()
    assert cache.key(audio, spec, "asset:image") == asset


def test_parameters_json_cannot_hold_go_into_the_key_as_text(tmp_path):
    spec = FeatureSpec(
        "f", lambda a, sr: a, sample_rate=1, params={"weights": Path("/w/model.pt"), "n": 3}
    )
    assert feature_fingerprint(spec) == (
        '{"name": "f", "params": {"n": 3, "weights": "/w/model.pt"}, "sample_rate": 1, '
        '"version": "1"}'
    )
    audio = tmp_path / "a.wav"
    audio.write_bytes(b"audio")
    other = FeatureSpec("f", spec.extract, sample_rate=1, params={"weights": Path("/w/b.pt")})
    assert FeatureCache(tmp_path).key(audio, spec) != FeatureCache(tmp_path).key(audio, other)


def test_file_digest_is_remembered_per_path_size_and_mtime(tmp_path, monkeypatch):
    import hashlib

    from genrebench.features import cache as cache_module

    reads = []
    real = hashlib.file_digest
    monkeypatch.setattr(
        cache_module.hashlib, "file_digest", lambda f, name: reads.append(f.name) or real(f, name)
    )
    one, two = tmp_path / "one.wav", tmp_path / "two.wav"
    one.write_bytes(b"AAAA")
    two.write_bytes(b"BBBB")
    os.utime(two, ns=(os.stat(one).st_atime_ns, os.stat(one).st_mtime_ns))  # same size and time
    first = cache_module.file_digest(one)
    assert len(first) == 32 and first == hashlib.blake2b(b"AAAA").hexdigest()[:32]
    assert cache_module.file_digest(one) == first and len(reads) == 1  # remembered
    assert cache_module.file_digest(two) == hashlib.blake2b(b"BBBB").hexdigest()[:32]
    one.write_bytes(b"CCCCC")  # a new size: read again
    assert cache_module.file_digest(one) == hashlib.blake2b(b"CCCCC").hexdigest()[:32]
    assert len(reads) == 3


def test_cache_counts_hits_and_misses_and_names_why_an_entry_is_bad(tmp_path, caplog):
    import logging

    cache = FeatureCache(tmp_path)
    spec = FeatureSpec("f", lambda a, sr: a, sample_rate=1)
    keys = [f"{i:02d}" * 32 for i in range(4)]
    for key in keys[:2]:
        cache.put(key, spec, np.ones(2, np.float32))
    assert [cache.get(k, spec) is not None for k in keys] == [True, True, False, False]
    assert (cache.hits, cache.misses) == (2, 2)
    cache._path(keys[0], spec).write_bytes(b"")
    np.save(cache._path(keys[1], spec), np.array([np.nan], np.float32))
    pickled = cache._path(keys[2], spec)
    pickled.parent.mkdir(parents=True)
    np.save(pickled, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    with caplog.at_level(logging.WARNING, logger="genrebench.features.cache"):
        assert cache.get(keys[0], spec, "t0.wav") is None
        assert cache.get(keys[1], spec) is None
        assert cache.get(keys[2], spec) is None
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == (
        f"ignoring bad cache entry {cache._path(keys[0], spec)} (feature 'f' of t0.wav): does "
        "not load (EOFError: No data left in file); recomputing it"
    )
    assert messages[1] == (
        f"ignoring bad cache entry {cache._path(keys[1], spec)} (feature 'f'): holds NaN or "
        "infinity; recomputing it"
    )
    assert "does not load (ValueError: Object arrays cannot be loaded" in messages[2]
    assert (cache.hits, cache.misses) == (2, 5)
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="genrebench.features.cache"):
        cache.discard(keys[3], spec, "wrong shape", was_hit=True)
    assert (cache.hits, cache.misses) == (1, 6)
    assert caplog.records[0].getMessage() == (
        f"ignoring bad cache entry {cache._path(keys[3], spec)} (feature 'f'): wrong shape; "
        "recomputing it"
    )


def test_discarding_an_entry_that_cannot_be_removed_goes_on(tmp_path):
    cache = FeatureCache(tmp_path)
    spec = FeatureSpec("f", lambda a, sr: a, sample_rate=1)
    cache._path("ab" * 32, spec).mkdir(parents=True)  # a folder where the entry should be
    cache.discard("ab" * 32, spec, "test")
    assert cache.misses == 1


def test_a_cache_write_that_cannot_start_reports_its_own_error(tmp_path, monkeypatch):
    from genrebench.features import cache as cache_module

    def refuse(*args):
        raise OSError("no space left on device")

    monkeypatch.setattr(cache_module.os, "open", refuse)
    with pytest.raises(OSError, match="no space left on device"):
        FeatureCache(tmp_path).put("ab" * 32, FeatureSpec("f", print, 1), np.ones(2, np.float32))


def test_cache_handles_keep_shape_and_dtype(tmp_path):
    cache = FeatureCache(tmp_path)
    spec = FeatureSpec("f", lambda a, sr: a, sample_rate=1)
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    cache.put("ab" * 32, spec, array)
    handle = cache.handle("ab" * 32, spec, array)
    assert handle.shape == (2, 3) and handle.dtype == np.float32
    np.testing.assert_array_equal(np.asarray(handle[:]), array)


def test_iterative_stratification_places_each_track_the_same_way_for_a_seed():
    tags = {
        "t00": "bc", "t01": "d", "t02": "ad", "t03": "", "t04": "ac", "t05": "ad",
        "t06": "d", "t07": "", "t08": "b", "t09": "ad", "t10": "c", "t11": "c",
        "t12": "d", "t13": "cd", "t14": "d", "t15": "a",
    }  # fmt: skip
    tracks = [Track(t, Path(f"{t}.wav"), tuple(labels)) for t, labels in tags.items()]
    parts = stratified_split(tracks, {"train": 0.5, "valid": 0.25, "test": 0.25}, 0)
    assert parts == {
        "train": ["t00", "t13", "t10", "t09", "t02", "t05", "t03", "t07"],
        "valid": ["t11", "t15", "t12", "t14"],
        "test": ["t08", "t04", "t06", "t01"],
    }


def test_cut_refuses_ids_that_do_not_match_the_arrays_and_can_stay_lazy():
    from genrebench.features.lazy import LazySegments

    seg = Segments(length_frames=2, train_count=1)
    arrays = [np.arange(4, dtype=np.float32)[None]] * 2
    with pytest.raises(ValueError, match="zip"):
        cut(arrays, ["only-one"], seg, FRAMED, 1, seed=0)
    lazy, owner = cut(arrays, ["a", "b"], seg, FRAMED, 1, seed=0, lazy=True)
    assert isinstance(lazy, LazySegments) and owner.tolist() == [0, 1]
    eager, _ = cut(arrays, ["a", "b"], seg, FRAMED, 1, seed=0)
    assert isinstance(eager, np.ndarray)
    np.testing.assert_array_equal(np.asarray(lazy), eager)


def test_the_shape_error_names_three_shapes_and_the_fix():
    track_level = FeatureSpec("g", lambda a, sr: a, sample_rate=100)
    arrays = [np.zeros(n) for n in (5, 4, 3, 2)]
    with pytest.raises(ConfigError) as error:
        cut(arrays, list("abcd"), Segments(), track_level, 1, seed=0)
    assert str(error.value) == (
        "feature 'g' gives arrays of different shapes [(2,), (3,), (4,)]; set "
        "ExperimentSpec.segments (length_seconds or length_frames) to cut them"
    )


def test_dataset_split_names_its_scheme_and_refuses_an_empty_part():
    ds = make_dataset(per_class=4)
    default = ds.split(SplitRequest("default"))
    assert default.scheme == "official" and default.note == ""
    strat = ds.split(SplitRequest("stratified", {"train": 0.75, "test": 0.25}), seed=1)
    assert strat.scheme == "stratified(train=0.75,test=0.25)" and strat.note == ""
    assert ds.split(SplitRequest("stratified")).scheme == "stratified(train=0.7,valid=0.1,test=0.2)"
    with pytest.raises(ConfigError) as error:
        ds.split(SplitRequest("stratified", {"train": 1.0, "test": 0.0}))
    assert str(error.value) == (
        "split 'stratified(train=1,test=0)' of data set 'toy' leaves 16 training and 0 test "
        "tracks; both must be > 0"
    )
    with pytest.raises(ConfigError, match="leaves 0 training and 16 test"):
        ds.split(SplitRequest("stratified", {"train": 0.0, "test": 1.0}))


def test_label_matrices_are_int64():
    single = make_dataset(per_class=2).label_matrix(["a000", "d001", "b000"])
    assert single.tolist() == [0, 3, 1] and single.dtype == np.int64
    multi = Dataset("m", "multi-label", ["x", "y"], [Track("1", Path("1"), ("y",))])
    assert multi.label_matrix(["1"]).dtype == np.int64
    empty = make_dataset(per_class=2).label_matrix([])
    assert empty.shape == (0,) and empty.dtype == np.int64  # an empty valid part, say
    assert multi.label_matrix([]).shape == (0, 2) and multi.label_matrix([]).dtype == np.int64


def test_a_split_without_a_seed_is_the_seed_0_split():
    ds = make_dataset()
    request = SplitRequest("stratified", {"train": 0.5, "test": 0.5})
    assert ds.split(request).train == ds.split(request, seed=0).train
    assert ds.split(request).train != ds.split(request, seed=1).train


def test_the_note_names_classes_with_fewer_tracks_than_parts_not_as_many():
    counts = {"a": 3, "b": 2, "c": 5}  # a split in 3 parts: "a" can be in every part
    tracks = [Track(f"{c}{i}", Path(f"{c}{i}.wav"), (c,)) for c, n in counts.items()
              for i in range(n)]  # fmt: skip
    ds = Dataset("toy", "single-label", list(counts), tracks)
    split = Split("s", ["a0", "b0", "c0", "c1", "c2"], ["a1", "c3"], ["a2", "b1", "c4"])
    assert small_classes_note(ds, split) == (
        "data set 'toy': 1 class(es) have fewer tracks than the 3 parts of split 's' and are "
        "missing from some part: 'b' (2) (f1_macro scores a class absent from the test part "
        "as 0)"
    )
    two_parts = Split("s", ["a0", "a1", "b0", "c0"], [], ["a2", "b1", "c1"])
    assert small_classes_note(ds, two_parts) == ""  # "b" has 2 tracks for 2 parts
