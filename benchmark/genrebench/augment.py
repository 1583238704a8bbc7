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
probability ``p``, in this order:

``time_shift``  circular shift along time by a whole number of frames drawn uniformly from
                ``[-time_shift * frames, +time_shift * frames]`` (a fraction of the length);
``noise``       add Gaussian noise of standard deviation ``noise`` (input units);
``time_mask``   set ``w`` consecutive frames to ``mask_value``, ``w`` uniform in
                ``[0, time_mask]``, at a uniform start (SpecAugment's time mask);
``freq_mask``   the same over ``w`` consecutive bands, ``w`` uniform in ``[0, freq_mask]``.

A value of 0 (the default) leaves that augmentation out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

import torch

from genrebench.errors import ConfigError


@dataclass(frozen=True)
class SpectrogramAugment:
    """Random noise, time shift, time mask and frequency mask (see the module docstring)."""

    noise: float = 0.0
    time_shift: float = 0.0
    time_mask: int = 0
    freq_mask: int = 0
    #: Probability that each augmentation is applied to each example.
    p: float = 0.5
    #: What masked frames and bands are set to.
    mask_value: float = 0.0

    def __post_init__(self) -> None:
        problems = []
        if not self.noise >= 0:
            problems.append(f"noise must be >= 0, got {self.noise}")
        if not 0 <= self.time_shift <= 1:
            problems.append(f"time_shift must be a fraction in [0, 1], got {self.time_shift}")
        for name in ("time_mask", "freq_mask"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                problems.append(
                    f"{name} must be a whole number of frames/bands >= 0, got {value!r}"
                )
        if not 0 <= self.p <= 1:
            problems.append(f"p must be a probability in [0, 1], got {self.p}")
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
            self.noise or self.time_shift or self.time_mask or self.freq_mask
        )

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """An augmented copy of the batch ``x`` (``x`` itself is left unchanged).  Random
        numbers come from ``generator`` (a CPU generator) whatever ``x``'s device."""
        if not self.active or len(x) == 0:
            return x
        if x.dim() < 2:
            raise ConfigError(f"augment needs a batch of examples, got shape {tuple(x.shape)}")
        if self.freq_mask and x.dim() < 3:
            raise ConfigError(
                "augment: freq_mask needs 2-D examples (bands, frames); got examples of shape "
                f"{tuple(x.shape[1:])}"
            )
        out = x.clone()
        if self.time_shift:
            out = self._shift(out, generator)
        if self.noise:
            chosen = self._chosen(len(out), generator, out.device)
            noise = torch.randn(out.shape, generator=generator).to(out.device, out.dtype)
            out = out + noise * self.noise * _expand(chosen, out)
        if self.time_mask:
            out = self._mask(out, generator, axis=-1, max_width=self.time_mask)
        if self.freq_mask:
            out = self._mask(out, generator, axis=-2, max_width=self.freq_mask)
        return out

    # ------------------------------------------------------------------ pieces
    def _chosen(self, n: int, generator: torch.Generator, device: torch.device) -> torch.Tensor:
        return (torch.rand(n, generator=generator) < self.p).to(device)

    def _shift(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        n, frames = len(x), x.shape[-1]
        limit = int(self.time_shift * frames)
        chosen = self._chosen(n, generator, torch.device("cpu"))
        shifts = torch.randint(-limit, limit + 1, (n,), generator=generator) * chosen
        # output frame t takes input frame (t - shift) mod frames: a circular shift
        index = (torch.arange(frames)[None, :] - shifts[:, None]) % frames
        index = index.to(x.device).view(n, *([1] * (x.dim() - 2)), frames).expand_as(x)
        return torch.gather(x, -1, index)

    def _mask(
        self, x: torch.Tensor, generator: torch.Generator, axis: int, max_width: int
    ) -> torch.Tensor:
        n, size = len(x), x.shape[axis]
        chosen = self._chosen(n, generator, torch.device("cpu"))
        width = torch.randint(0, min(max_width, size) + 1, (n,), generator=generator) * chosen
        start = (torch.rand(n, generator=generator) * (size - width + 1)).long()
        position = torch.arange(size)[None, :]
        masked = (position >= start[:, None]) & (position < (start + width)[:, None])
        shape = [n] + [1] * (x.dim() - 1)
        shape[axis] = size
        masked = masked.view(shape).to(x.device)
        return torch.where(masked, torch.full_like(x, self.mask_value), x)


def _expand(chosen: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-example 0/1 factor broadcast over the example's own axes."""
    return chosen.to(x.dtype).view(len(x), *([1] * (x.dim() - 1)))
