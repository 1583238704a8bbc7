"""On-the-fly spectrogram augmentation for models trained with
:class:`genrebench.training.TorchClassifier`.

An experiment turns it on through its model parameters or a profile's budget::

    profiles={"paper": {"augment": {"noise": 0.05, "time_shift": 0.1,
                                    "time_mask": 20, "freq_mask": 10}}}

The training loop then augments every training mini-batch (never validation or test
inputs, never predictions), drawing its random numbers from its own generator seeded with
the training seed: the same seed gives the same augmented batches, and the batch order is
the same with and without augmentation.

Inputs are model inputs as the loop feeds them (after its optional standardisation):
``(batch, ..., bands, frames)`` -- time on the last axis, frequency on the one before, as
the core cuts segments.  Each augmentation is applied to each example independently with
probability ``p``, in the order ``order`` (default: time shift, noise, time mask, frequency
mask):

``time_shift``  circular shift along time by a whole number of frames drawn uniformly from
                ``[-time_shift * frames, +time_shift * frames]`` (a fraction of the length),
                or from the list ``shifts`` (frames) when that is given; ``roll`` says what
                is rolled: ``"time"`` (each band along time) or ``"flattened"`` (the
                example's ``bands x frames`` values in row order, as NumPy's ``np.roll``
                without an axis: frames pushed off the end of one band enter the next);
``noise``       add noise of scale ``noise`` (input units): Gaussian with that standard
                deviation (``noise_kind="gaussian"``) or ``noise * U[0, 1)``
                (``noise_kind="uniform"``, never negative);
``time_mask``   set ``w`` consecutive frames to ``mask_value``, ``w`` uniform in
                ``[0, time_mask]`` (``mask_width="random"``, SpecAugment's time mask) or
                exactly ``time_mask`` (``mask_width="fixed"``); ``time_masks`` such masks
                per chosen example; the start is uniform over the starts where the mask fits,
                or over ``[0, frames - time_mask_margin)`` when a margin is given (a mask
                running past the edge is then cut there);
``freq_mask``   the same over bands (``freq_mask``, ``freq_masks``, ``freq_mask_margin``).

``mask_value`` is a number or ``"min"``: the example's smallest value when its mask step
starts (the floor of its own spectrogram, after the steps before).  A value of 0 (the
default) leaves that augmentation out.

The report reproduced by ``pocelli2024`` (its notebook's ``augment_data``) is::

    {"order": ["noise", "time_shift", "time_mask", "freq_mask"], "p": 0.35,
     "noise": 0.1, "noise_kind": "uniform",
     "shifts": [-45, -30, -15, 0, 15, 30, 45], "roll": "flattened",
     "time_mask": 12, "time_masks": 3, "time_mask_margin": 12,
     "freq_mask": 20, "freq_masks": 2, "freq_mask_margin": 10,
     "mask_width": "fixed", "mask_value": "min"}
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

from genrebench.errors import ConfigError

#: The four augmentation steps, by their size keys.
STEPS = ("time_shift", "noise", "time_mask", "freq_mask")
NOISE_KINDS = ("gaussian", "uniform")
ROLLS = ("time", "flattened")
MASK_WIDTHS = ("random", "fixed")


@dataclass(frozen=True)
class SpectrogramAugment:
    """Random noise, time shift, time mask and frequency mask (see the module docstring)."""

    noise: float = 0.0
    time_shift: float = 0.0
    time_mask: int = 0
    freq_mask: int = 0
    #: Probability that each augmentation is applied to each example.
    p: float = 0.5
    #: What masked frames and bands are set to: a number, or "min" (the example's minimum).
    mask_value: float | str = 0.0
    #: "gaussian" (standard deviation ``noise``) or "uniform" (``noise * U[0, 1)``).
    noise_kind: str = "gaussian"
    #: The shifts (frames) to draw from, uniformly; None: every shift within ``time_shift``.
    shifts: tuple[int, ...] | None = None
    #: "time" (each band rolled along time) or "flattened" (``np.roll`` of bands x frames).
    roll: str = "time"
    #: Masks per chosen example.
    time_masks: int = 1
    freq_masks: int = 1
    #: "random": widths uniform in [0, max]; "fixed": exactly ``time_mask`` / ``freq_mask``.
    mask_width: str = "random"
    #: Mask starts uniform in [0, size - margin) (masks cut at the edge); None: inside.
    time_mask_margin: int | None = None
    freq_mask_margin: int | None = None
    #: The order of the steps: a permutation of :data:`STEPS`.
    order: tuple[str, ...] = STEPS

    def __post_init__(self) -> None:
        if self.shifts is not None and not isinstance(self.shifts, tuple):
            object.__setattr__(self, "shifts", tuple(self.shifts))
        if not isinstance(self.order, tuple):
            object.__setattr__(self, "order", tuple(self.order))
        problems = []
        if not self.noise >= 0:
            problems.append(f"noise must be >= 0, got {self.noise}")
        if not 0 <= self.time_shift <= 1:
            problems.append(f"time_shift must be a fraction in [0, 1], got {self.time_shift}")
        for name in ("time_mask", "freq_mask"):
            if not _whole(getattr(self, name), 0):
                problems.append(
                    f"{name} must be a whole number of frames/bands >= 0, got "
                    f"{getattr(self, name)!r}"
                )
        for name in ("time_masks", "freq_masks"):
            if not _whole(getattr(self, name), 1):
                problems.append(f"{name} must be a whole number >= 1, got {getattr(self, name)!r}")
        for name in ("time_mask_margin", "freq_mask_margin"):
            value = getattr(self, name)
            if value is not None and not _whole(value, 0):
                problems.append(f"{name} must be None or a whole number >= 0, got {value!r}")
        if not 0 <= self.p <= 1:
            problems.append(f"p must be a probability in [0, 1], got {self.p}")
        if self.mask_value != "min" and (
            isinstance(self.mask_value, str | bool) or not isinstance(self.mask_value, int | float)
        ):
            problems.append(f"mask_value must be a number or 'min', got {self.mask_value!r}")
        for name, allowed in (
            ("noise_kind", NOISE_KINDS),
            ("roll", ROLLS),
            ("mask_width", MASK_WIDTHS),
        ):
            if getattr(self, name) not in allowed:
                problems.append(f"{name} must be one of {allowed}, got {getattr(self, name)!r}")
        if self.shifts is not None and (
            not self.shifts or not all(_whole(v, None) for v in self.shifts)
        ):
            problems.append(f"shifts must be a non-empty list of whole frames, got {self.shifts}")
        if sorted(self.order) != sorted(STEPS):
            problems.append(f"order must list each of {STEPS} once, got {list(self.order)}")
        if problems:
            raise ConfigError("augment: " + "; ".join(problems))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> SpectrogramAugment | None:
        """``None`` or an empty mapping: no augmentation.  Unknown keys are an error that
        names the known ones."""
        if not config:
            return None
        if not isinstance(config, Mapping):
            raise ConfigError(
                f"augment must be a mapping such as {{'noise': 0.05}}, got {config!r}"
            )
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(config) - set(known))
        if unknown:
            raise ConfigError(f"augment: unknown key(s) {unknown}; known keys: {', '.join(known)}")
        return cls(**dict(config))

    @property
    def active(self) -> bool:
        return self.p > 0 and bool(
            self.noise or self._shifts_anything or self.time_mask or self.freq_mask
        )

    @property
    def _shifts_anything(self) -> bool:
        return any(self.shifts) if self.shifts is not None else bool(self.time_shift)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """An augmented copy of the batch ``x`` (``x`` itself is left unchanged).  Random
        numbers come from ``generator`` (a CPU generator) whatever ``x``'s device."""
        if not self.active or len(x) == 0:
            return x
        if x.dim() < 2:
            raise ConfigError(f"augment needs a batch of examples, got shape {tuple(x.shape)}")
        for needs, name in ((self.freq_mask, "freq_mask"), (self.roll == "flattened", "roll")):
            if needs and x.dim() < 3:
                raise ConfigError(
                    f"augment: {name} needs 2-D examples (bands, frames); got examples of "
                    f"shape {tuple(x.shape[1:])}"
                )
        out = x.clone()
        for step in self.order:
            if step == "time_shift" and self._shifts_anything:
                out = self._shift(out, generator)
            elif step == "noise" and self.noise:
                chosen = self._chosen(len(out), generator, out.device)
                if self.noise_kind == "uniform":
                    noise = torch.rand(out.shape, generator=generator)
                else:
                    noise = torch.randn(out.shape, generator=generator)
                out = out + noise.to(out.device, out.dtype) * self.noise * _expand(chosen, out)
            elif step == "time_mask" and self.time_mask:
                out = self._mask(
                    out, generator, -1, self.time_mask, self.time_masks, self.time_mask_margin
                )
            elif step == "freq_mask" and self.freq_mask:
                out = self._mask(
                    out, generator, -2, self.freq_mask, self.freq_masks, self.freq_mask_margin
                )
        return out

    # ------------------------------------------------------------------ pieces
    def _chosen(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return (torch.rand(n, generator=generator) < self.p).to(device)

    def _shift(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, frames = len(x), x.shape[-1]
        chosen = self._chosen(n, generator, torch.device("cpu"))
        if self.shifts is not None:
            pick = torch.randint(0, len(self.shifts), (n,), generator=generator)
            shifts = torch.tensor(self.shifts, dtype=torch.long)[pick] * chosen
        else:
            limit = int(self.time_shift * frames)
            shifts = torch.randint(-limit, limit + 1, (n,), generator=generator) * chosen
        if self.roll == "flattened":  # np.roll(example) over its last two axes in row order
            flat = x.flatten(-2)
            size = flat.shape[-1]
            index = (torch.arange(size)[None, :] - shifts[:, None]) % size
            index = index.to(x.device).view(n, *([1] * (flat.dim() - 2)), size).expand_as(flat)
            return torch.gather(flat, -1, index).view_as(x)
        # output frame t takes input frame (t - shift) mod frames: a circular shift
        index = (torch.arange(frames)[None, :] - shifts[:, None]) % frames
        index = index.to(x.device).view(n, *([1] * (x.dim() - 2)), frames).expand_as(x)
        return torch.gather(x, -1, index)

    def _mask(
        self,
        x: torch.Tensor,
        generator: torch.Generator,
        axis: int,
        max_width: int,
        count: int,
        margin: int | None,
    ) -> torch.Tensor:
        n, size = len(x), x.shape[axis]
        chosen = self._chosen(n, generator, torch.device("cpu"))
        position = torch.arange(size)[None, :]
        masked = torch.zeros(n, size, dtype=torch.bool)
        for _ in range(count):
            if self.mask_width == "fixed":
                width = torch.full((n,), max_width, dtype=torch.long) * chosen
            else:
                width = (
                    torch.randint(0, min(max_width, size) + 1, (n,), generator=generator) * chosen
                )
            if margin is None:  # the mask lies inside: starts 0 .. size - width
                room = (size - width).clamp(min=0) + 1
            else:  # NumPy's randint(0, size - margin); a mask past the edge is cut there
                room = torch.full((n,), max(size - margin, 1), dtype=torch.long)
            start = (torch.rand(n, generator=generator) * room).long()
            masked |= (position >= start[:, None]) & (position < (start + width)[:, None])
        shape = [n] + [1] * (x.dim() - 1)
        shape[axis] = size
        masked = masked.view(shape).to(x.device)
        if self.mask_value == "min":
            value = x.flatten(1).amin(dim=1).view(n, *([1] * (x.dim() - 1)))
        else:
            value = torch.full_like(x, float(self.mask_value))
        return torch.where(masked, value, x)


def _whole(value: Any, low: int | None) -> bool:
    """An int (not a bool) of at least ``low`` (any int when ``low`` is None)."""
    ok = isinstance(value, int) and not isinstance(value, bool)
    return ok and (low is None or value >= low)


def _expand(chosen: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-example 0/1 factor broadcast over the example's own axes."""
    return chosen.to(x.dtype).view(len(x), *([1] * (x.dim() - 1)))
