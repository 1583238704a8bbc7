"""The HEAR 2021 API's rules, as ``hearvalidator`` (hear-validator 2021.0.2,
``hearvalidator/validate.py``) states them, checked without TensorFlow (which
``hearvalidator`` imports at start-up and which is not installed here).

* ``load_model(model_file_path="")`` returns a model (here: a ``torch.nn.Module``) with
  ``sample_rate`` in 16000, 22050, 32000, 44100, 48000 and ``scene_embedding_size`` and
  ``timestamp_embedding_size`` as ints;
* ``get_timestamp_embeddings(audio, model)`` for ``(n_sounds, n_samples)`` audio returns
  float32 embeddings ``(n_sounds, n_timestamps, timestamp_embedding_size)`` and
  timestamps ``(n_sounds, n_timestamps)`` in milliseconds, at regular intervals (no gap
  more than 1 ms off the mean) and none after the end of the audio;
* ``get_scene_embeddings(audio, model)`` returns float32 ``(n_sounds,
  scene_embedding_size)``.

hearvalidator's advice (timestamps more than 50 ms apart, timestamps starting late or
ending early) comes back as notes, not errors.  The feature checks every output it gets
with the same functions; ``python -m genrebench_hear.validate MODULE [-w WEIGHTS]`` runs
hearvalidator's whole procedure on white noise (``--device`` as hearvalidator's ``-d``).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any

import numpy as np

from genrebench.errors import ConfigError

ACCEPTABLE_SAMPLE_RATES = (16000, 22050, 32000, 44100, 48000)


class HearAPIError(ConfigError):
    """A module or model that breaks a rule of the HEAR API; the message names the rule."""


def check_attributes(model: Any, module: str) -> None:
    if not hasattr(model, "sample_rate"):
        raise HearAPIError(f"{module}: the model must expose its input sample rate as sample_rate")
    if model.sample_rate not in ACCEPTABLE_SAMPLE_RATES:
        raise HearAPIError(
            f"{module}: sample_rate {model.sample_rate} is not one of {ACCEPTABLE_SAMPLE_RATES}"
        )
    for name in ("scene_embedding_size", "timestamp_embedding_size"):
        if not isinstance(getattr(model, name, None), int):
            raise HearAPIError(f"{module}: the model must expose {name} as an int")


def _numpy(tensor: Any, what: str, module: str) -> np.ndarray:
    import torch

    if not isinstance(tensor, torch.Tensor):
        raise HearAPIError(f"{module}: {what} must be a torch.Tensor, got {type(tensor).__name__}")
    if tensor.dtype != torch.float32:
        raise HearAPIError(f"{module}: {what} must be float32, got {tensor.dtype}")
    return tensor.detach().cpu().numpy()


def check_scene(embeddings: Any, model: Any, n_sounds: int, module: str) -> np.ndarray:
    """The scene embeddings as an array, or :class:`HearAPIError`."""
    array = _numpy(embeddings, "get_scene_embeddings' output", module)
    expected = (n_sounds, model.scene_embedding_size)
    if array.shape != expected:
        raise HearAPIError(
            f"{module}: get_scene_embeddings returned shape {array.shape} for {n_sounds} "
            f"sound(s); expected (n_sounds, scene_embedding_size) = {expected}"
        )
    return array


def check_timestamps(
    embeddings: Any, timestamps: Any, model: Any, n_sounds: int, seconds: float, module: str
) -> tuple[np.ndarray, list[str]]:
    """The timestamp embeddings as an array and hearvalidator's notes, or
    :class:`HearAPIError`."""
    array = _numpy(embeddings, "get_timestamp_embeddings' embeddings", module)
    times = np.asarray(
        timestamps.detach().cpu().numpy() if hasattr(timestamps, "detach") else timestamps
    )
    if array.ndim != 3 or times.ndim != 2:
        raise HearAPIError(
            f"{module}: get_timestamp_embeddings must return embeddings (n_sounds, n_timestamps, "
            f"size) and timestamps (n_sounds, n_timestamps); got {array.shape} and {times.shape}"
        )
    if array.shape[0] != n_sounds or array.shape[:2] != times.shape:
        raise HearAPIError(
            f"{module}: get_timestamp_embeddings returned embeddings {array.shape} and timestamps "
            f"{times.shape} for {n_sounds} sound(s)"
        )
    if array.shape[2] != model.timestamp_embedding_size:
        raise HearAPIError(
            f"{module}: timestamp embeddings have size {array.shape[2]}, the model says "
            f"timestamp_embedding_size = {model.timestamp_embedding_size}"
        )
    notes = []
    length_ms = 1000 * seconds
    if times.shape[1] > 1:
        gaps = np.diff(times)
        mean = float(np.mean(gaps))
        if float(np.max(gaps)) > 50.0:
            notes.append("timestamps more than 50 ms apart (HEAR suggests at most 50 ms)")
        deviation = float(np.max(np.abs(gaps - mean)))
        if deviation > 1:
            raise HearAPIError(
                f"{module}: timestamps must be regular; one interval is {deviation:.2f} ms off "
                f"the mean interval of {mean:.2f} ms"
            )
        if float(np.min(times)) > mean:
            notes.append(f"timestamps begin at {np.min(times):.1f} ms")
        if float(np.max(times)) < length_ms - min(mean, 50):
            notes.append(f"timestamps end at {np.max(times):.1f} ms of {length_ms:.1f} ms")
    if times.size and float(np.max(times)) > length_ms:
        raise HearAPIError(
            f"{module}: a timestamp ({np.max(times):.1f} ms) lies after the end of the audio "
            f"({length_ms:.1f} ms)"
        )
    return array, notes


def validate(module_name: str, weights: str = "", device: str | None = None) -> list[str]:
    """hearvalidator's procedure: load the model, check its attributes, then timestamp
    embeddings of 2 sounds of 1.07, 1.98 and 4.0 s and scene embeddings of 4 sounds of
    2.74 s of white noise in [-1, 1].  Returns the notes; raises :class:`HearAPIError`."""
    import torch

    module = importlib.import_module(module_name)
    for function in ("load_model", "get_scene_embeddings", "get_timestamp_embeddings"):
        if not callable(getattr(module, function, None)):
            raise HearAPIError(f"{module_name}: the API must include a function {function}()")
    from genrebench_hear.compat import shims_for

    with shims_for(module_name):
        model = module.load_model(weights) if weights else module.load_model()
    if not isinstance(model, torch.nn.Module):
        raise HearAPIError(f"{module_name}: load_model must return a torch.nn.Module here")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    check_attributes(model, module_name)
    generator = torch.Generator().manual_seed(0)
    notes: list[str] = []
    for seconds in (1.07, 1.98, 4.0):
        audio = torch.rand((2, int(seconds * model.sample_rate)), generator=generator) * 2 - 1
        with torch.no_grad():
            embeddings, timestamps = module.get_timestamp_embeddings(audio.to(device), model)
        _, found = check_timestamps(embeddings, timestamps, model, 2, seconds, module_name)
        notes += [f"{seconds} s: {note}" for note in found]
    audio = torch.rand((4, int(2.74 * model.sample_rate)), generator=generator) * 2 - 1
    with torch.no_grad():
        check_scene(module.get_scene_embeddings(audio.to(device), model), model, 4, module_name)
    return notes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m genrebench_hear.validate",
        description="Check a module against the HEAR 2021 API (hearvalidator's rules).",
    )
    parser.add_argument("module", help="import name, e.g. hearbaseline.naive")
    parser.add_argument("-w", "--weights", default="", help="weights file for load_model")
    parser.add_argument("-d", "--device", default=None, help="cpu or cuda (default: cuda if any)")
    args = parser.parse_args(argv)
    try:
        notes = validate(args.module, args.weights, args.device)
    except HearAPIError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    for note in notes:
        print(f"note: {note}")
    print(f"{args.module} follows the HEAR 2021 API")
    return 0


if __name__ == "__main__":
    sys.exit(main())
