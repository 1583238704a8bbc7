"""Rendering one track from its genres' styles: drum, bass, chord and lead parts, mixing
and production."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np
from scipy import fft as scipy_fft
from scipy import signal

from genrebench.datasets.synthetic.styles import (
    GENRES,
    INSTRUMENTS,
    LEAD_SCALES,
    MODES,
    MUSICAL_ROLES,
    STEPS,
    STYLES,
    TABLE_SIZE,
    BassStyle,
    DrumStyle,
    HarmonyStyle,
    Instrument,
    LeadStyle,
    Style,
    pattern,
)

DEFAULT_DURATION = 8.0
DEFAULT_SAMPLE_RATE = 22050


# =========================================================================== synthesis
MAX_NOTE_SECONDS = 4.0  # longest note rendered, release tail included
DRUM_SOUNDS = (
    "kick",
    "kick808",
    "snare",
    "clap",
    "rim",
    "brush",
    "closed_hat",
    "open_hat",
    "shaker",
    "ride",
    "crash",
)
DRUM_VARIANTS = 8  # tunings of each drum sound a track picks from
NOISE_BANK_SIZE = 1 << 19


@lru_cache(maxsize=64)
def _sos(kind: str, cutoff: float | tuple[float, float], sample_rate: int) -> np.ndarray:
    return signal.butter(2, cutoff, btype=kind, fs=sample_rate, output="sos")


def _filter(x: np.ndarray, kind: str, cutoff, sample_rate: int) -> np.ndarray:
    """Second-order Butterworth ``lowpass``, ``highpass`` or ``band`` (a (low, high) pair),
    with cut-offs kept below the Nyquist frequency."""
    nyquist = sample_rate / 2
    if kind == "lowpass" and cutoff >= 0.95 * nyquist:
        return x
    if kind == "band":
        cutoff = (cutoff[0], min(cutoff[1], 0.95 * nyquist))
    elif kind == "highpass":
        cutoff = min(cutoff, 0.9 * nyquist)
    sos = _sos("bandpass" if kind == "band" else kind, cutoff, sample_rate)
    return signal.sosfilt(sos, x).astype(x.dtype, copy=False)


def _decay(n: int, seconds: float, sample_rate: int) -> np.ndarray:
    return np.exp(-np.arange(n) / (seconds * sample_rate))


@lru_cache(maxsize=1)
def _noise_bank() -> np.ndarray:
    """White noise shared by all tracks: a fresh draw per track costs more than the rest
    of the mix, and a random window of a long buffer sounds the same."""
    bank = np.random.default_rng(12345).standard_normal(NOISE_BANK_SIZE, dtype=np.float32)
    bank.flags.writeable = False
    return bank


def _noise(rng: np.random.Generator, n: int) -> np.ndarray:
    """``n`` samples of white noise (read-only) from a random place in the bank."""
    bank = _noise_bank()
    if n > bank.size:
        return np.resize(bank, n)
    start = int(rng.integers(bank.size - n + 1))
    return bank[start : start + n]


@lru_cache(maxsize=len(DRUM_SOUNDS) * DRUM_VARIANTS * 2)
def _drum_sound(name: str, variant: int, sr: int) -> np.ndarray:
    """One tuning (``variant``) of a one-shot drum sample, the same in every process."""
    rng = np.random.default_rng([DRUM_SOUNDS.index(name), variant, sr])
    shot = _synthesise_drum(name, rng, sr).astype(np.float32)
    shot.flags.writeable = False
    return shot


def _synthesise_drum(name: str, rng: np.random.Generator, sr: int) -> np.ndarray:
    def noise(seconds: float) -> np.ndarray:
        return rng.standard_normal(int(seconds * sr))

    def sweep(seconds: float, f_end: float, ratio: float, fall: float) -> np.ndarray:
        t = np.arange(int(seconds * sr)) / sr
        freq = f_end * (1 + (ratio - 1) * np.exp(-t / fall))
        return np.sin(2 * np.pi * np.cumsum(freq) / sr)

    if name in ("kick", "kick808"):
        long = name == "kick808"
        seconds = rng.uniform(0.7, 1.1) if long else rng.uniform(0.25, 0.4)
        body = sweep(seconds, rng.uniform(42, 60), rng.uniform(2.5, 4), rng.uniform(0.02, 0.05))
        n = body.size
        click = _filter(noise(seconds), "lowpass", 3000, sr) * _decay(n, 0.004, sr) * 0.3
        return (body * _decay(n, seconds / 3, sr) + click) * (1.0 if long else 1.2)
    if name == "snare":
        n = int(0.3 * sr)
        tone = sweep(0.3, rng.uniform(170, 230), 1.3, 0.01) * _decay(n, 0.05, sr)
        rattle = _filter(noise(0.3), "highpass", rng.uniform(900, 1800), sr)
        return 0.5 * tone + rattle * _decay(n, rng.uniform(0.06, 0.12), sr)
    if name == "clap":
        n = int(0.3 * sr)
        bursts = sum(_decay(n, 0.006, sr) * (np.arange(n) >= k * 0.011 * sr) for k in range(3))
        env = np.maximum(bursts * (np.arange(n) < 0.035 * sr), _decay(n, 0.08, sr) * 0.6)
        return _filter(noise(0.3), "band", (rng.uniform(900, 1300), 3500), sr) * env * 1.5
    if name == "rim":
        n = int(0.08 * sr)
        tone = sweep(0.08, rng.uniform(700, 900), 1.0, 1) + 0.6 * sweep(0.08, 1750, 1.0, 1)
        return (tone + 0.5 * noise(0.08)) * _decay(n, 0.015, sr)
    if name == "brush":
        n = int(0.25 * sr)
        env = np.minimum(np.arange(n) / (0.02 * sr), 1) * _decay(n, rng.uniform(0.06, 0.12), sr)
        return _filter(noise(0.25), "band", (1500, 7000), sr) * env * 0.6
    if name in ("closed_hat", "open_hat", "shaker"):
        seconds = {
            "closed_hat": rng.uniform(0.03, 0.06),
            "open_hat": rng.uniform(0.2, 0.35),
            "shaker": rng.uniform(0.04, 0.07),
        }[name]
        n = int((seconds * 5) * sr)
        hiss = _filter(noise(seconds * 5), "highpass", rng.uniform(6000, 8500), sr)
        if name == "shaker":
            hiss = _filter(hiss, "lowpass", 9000, sr)
        return hiss * _decay(n, seconds, sr) * (0.5 if name == "closed_hat" else 0.4)
    if name in ("ride", "crash"):
        seconds = rng.uniform(0.4, 0.7) if name == "ride" else rng.uniform(0.8, 1.2)
        n = int(seconds * 4 * sr)
        partials = rng.uniform(2800, 7000, size=6)
        t = np.arange(n) / sr
        ping = np.sin(2 * np.pi * partials[:, None] * t).sum(axis=0) / 6
        wash = _filter(noise(seconds * 4), "highpass", 4000, sr)
        body = (0.5 * ping + wash) if name == "ride" else (0.2 * ping + wash)
        return body * _decay(n, seconds, sr) * (0.35 if name == "ride" else 0.5)
    raise ValueError(f"unknown drum sound {name!r}")


@lru_cache(maxsize=4)
def _seconds(sr: int) -> np.ndarray:
    """Time in seconds of the samples of the longest note."""
    return np.arange(int(MAX_NOTE_SECONDS * sr) + 1) / sr


def _midi_hz(midi: float) -> float:
    return 440.0 * 2.0 ** ((midi - 69) / 12)


@dataclass
class _Voice:
    """An instrument as heard in one track (with a per-track brightness), and caches of
    what its notes share: wavetables, envelopes and pitch curves."""

    inst: Instrument
    tilt: float  # extra spectral slope: > 0 darker, < 0 brighter
    sr: int
    _tables: dict[int, np.ndarray] = field(default_factory=dict)
    _envelopes: dict[int, np.ndarray] = field(default_factory=dict)
    _pitch_curves: dict[float, np.ndarray] = field(default_factory=dict)

    def table(self, f0: float) -> np.ndarray:
        """One period of the waveform, keeping only harmonics below Nyquist (no aliasing)."""
        top = f0 * 2 ** (max(self.inst.glide, self.inst.vibrato) / 12)
        count = max(1, min(int(0.45 * self.sr / top), len(self.inst.harmonics)))
        if count not in self._tables:
            k = np.arange(1, count + 1)
            spectrum = np.zeros(TABLE_SIZE // 2 + 1, dtype=complex)
            spectrum[1 : count + 1] = (
                -1j * np.asarray(self.inst.harmonics[:count]) * k ** (-self.tilt)
            )
            table = np.fft.irfft(spectrum, TABLE_SIZE)
            self._tables[count] = (table / np.abs(table).max()).astype(np.float32)
        return self._tables[count]

    def envelope(self, gate: int) -> np.ndarray:
        """Attack, decay to the sustain level, and release after ``gate`` samples."""
        if gate not in self._envelopes:
            inst = self.inst
            n = int(min(gate / self.sr + 3 * inst.release, MAX_NOTE_SECONDS) * self.sr)
            t = _seconds(self.sr)[:n]
            env = np.minimum(t / inst.attack, 1.0)
            env *= inst.sustain + (1 - inst.sustain) * np.exp(-t / inst.decay)
            env *= np.exp(-np.maximum(t - gate / self.sr, 0.0) / inst.release)
            self._envelopes[gate] = env.astype(np.float32)
        return self._envelopes[gate]

    def pitch_curve(self, bend: float) -> np.ndarray:
        """Oscillator cycles per Hz of the note's pitch, sample by sample: plain time for a
        steady pitch; bent by glides, guitar bends and vibrato otherwise."""
        inst = self.inst
        t = _seconds(self.sr)
        if not (inst.vibrato or inst.glide or bend):
            return t
        if bend not in self._pitch_curves:
            semis = inst.glide * np.exp(-t / 0.08) - bend * np.exp(-t / 0.06)
            semis += inst.vibrato * np.sin(2 * np.pi * 5.5 * t) * np.minimum(t / 0.3, 1)
            self._pitch_curves[bend] = np.cumsum(2.0 ** (semis / 12)) / self.sr
        return self._pitch_curves[bend]


def _render_note(
    out: np.ndarray,
    voice: _Voice,
    start: int,
    midi: float,
    gate: float,
    velocity: float,
    bend: float = 0.0,
) -> None:
    """Add one note starting at sample ``start`` (negative: it began before the excerpt)
    to ``out``.  ``bend`` starts it that many semitones flat, sliding up."""
    env = voice.envelope(int(gate * voice.sr))
    first, last = max(0, -start), min(env.size, out.size - start)
    if last <= first:
        return
    f0 = _midi_hz(midi)
    table = voice.table(f0) * np.float32(velocity)
    index = (voice.pitch_curve(bend)[first:last] * (f0 * TABLE_SIZE)).astype(np.int32)
    index &= TABLE_SIZE - 1
    wave = table[index]
    wave *= env[first:last]
    out[start + first : start + last] += wave


def _distort(x: np.ndarray, amount: float, sr: int) -> np.ndarray:
    """Overdrive (tanh clipping) followed by a guitar-cabinet low-pass."""
    if amount <= 0.02:
        return x
    peak = np.abs(x).max()
    if peak == 0:
        return x
    drive = 1 + 30 * amount**2
    y = np.tanh(x * np.float32(drive / peak)) / np.float32(np.tanh(drive))
    return _filter(y, "lowpass", 5500 - 2000 * amount, sr)


def _rms(x: np.ndarray) -> float:
    return float(np.sqrt(np.mean(x**2))) if x.size else 0.0


def _normalised(x: np.ndarray) -> np.ndarray:
    r = _rms(x)
    return x / r if r > 0 else x


# =========================================================================== composition
def _pick(rng: np.random.Generator, weighted: Mapping[str, float]) -> str:
    names = list(weighted)
    p = np.array([weighted[n] for n in names], dtype=float)
    return names[rng.choice(len(names), p=p / p.sum())]


def _uniform(rng: np.random.Generator, bounds: tuple[float, float]) -> float:
    return float(rng.uniform(*bounds)) if bounds[1] > bounds[0] else float(bounds[0])


@dataclass
class _Plan:
    """One track's shared musical frame: time grid, key and chords per step."""

    sr: int
    step_seconds: float
    #: Onset of every sixteenth step in seconds, swing and jitter applied.  The grid starts
    #: up to a bar before the excerpt (negative times) so tracks begin anywhere in a bar.
    times: np.ndarray
    offset: float  # seconds between the grid's first step and the excerpt's start
    key: int  # pitch class of the tonic
    scale: tuple[int, ...]
    chord_roots: list[int]  # per step: semitones above the tonic
    chord_tones: list[tuple[int, ...]]  # per step: semitones above the tonic, root first

    @property
    def n_steps(self) -> int:
        return self.times.size

    def sample(self, step: int) -> int:
        return round(float(self.times[step]) * self.sr)


def _degree(scale: Sequence[int], degree: int) -> int:
    return scale[degree % 7] + 12 * (degree // 7)


def _chord(scale: Sequence[int], degree: int, size: int, dominant: bool) -> tuple[int, ...]:
    if dominant:
        root = _degree(scale, degree)
        return tuple(root + i for i in (0, 4, 7, 10, 14)[:size])
    return tuple(_degree(scale, degree + 2 * i) for i in range(size))


def _make_plan(
    roles: Mapping[str, Style], duration: float, sr: int, rng: np.random.Generator
) -> _Plan:
    rhythm, harmony = roles["drums"], roles["harmony"]
    tempo = _uniform(rng, rhythm.tempo)
    swing = _uniform(rng, rhythm.swing)
    step = 60.0 / tempo / 4
    offset = rng.uniform(0, STEPS * step)
    n_steps = int(np.ceil((duration + offset) / step)) + 1
    k = np.arange(n_steps)
    late = (k % 4 == 2) if rhythm.swing_unit == 8 else (k % 2 == 1)
    shift = swing * (2 if rhythm.swing_unit == 8 else 1) * step
    times = k * step + late * shift + rng.normal(0, rhythm.humanize, n_steps) - offset
    scale = MODES[_pick(rng, harmony.modes)]
    progression = harmony.progressions[rng.integers(len(harmony.progressions))]
    steps_per_chord = int(STEPS * harmony.bars_per_chord[rng.integers(len(harmony.bars_per_chord))])
    size = int(rng.integers(harmony.chord_size[0], harmony.chord_size[1] + 1))
    chords = [_chord(scale, d, size, harmony.dominant) for d in progression]
    per_step = [chords[(i // steps_per_chord) % len(chords)] for i in range(n_steps)]
    return _Plan(
        sr, step, times, offset, int(rng.integers(12)), scale, [c[0] for c in per_step], per_step
    )


def _hits(rhythm: str, plan: _Plan, rng: np.random.Generator) -> np.ndarray:
    """Steps that sound, drawn from the per-step probabilities (the same bar pattern is
    kept for the whole track with a little variation, like a real groove)."""
    probs = pattern(rhythm)
    groove = rng.random(STEPS) < probs
    bars = np.tile(groove, plan.n_steps // STEPS + 1)[: plan.n_steps]
    # Occasionally vary a step: uncertain steps (0 < p < 1) are re-drawn per bar.
    redraw = rng.random(plan.n_steps) < 0.25
    fresh = rng.random(plan.n_steps) < np.tile(probs, plan.n_steps // STEPS + 1)[: plan.n_steps]
    return np.flatnonzero(np.where(redraw, fresh, bars))


def _note_lengths(hits: np.ndarray, gate: float, plan: _Plan) -> np.ndarray:
    """Seconds per note: ``gate`` steps, or legato up to the next note when gate is 0."""
    if gate > 0:
        return np.full(hits.size, gate * plan.step_seconds)
    following = np.append(hits[1:], plan.n_steps)
    return np.minimum(following - hits, 2 * STEPS) * plan.step_seconds * 0.95


def _velocity(rng: np.random.Generator, step: int) -> float:
    accent = 1.0 if step % 4 == 0 else 0.85
    return accent * rng.uniform(0.75, 1.0)


def _register(low: int, key: int, interval: int) -> int:
    """The MIDI note of pitch class ``key + interval`` in the octave above ``low``."""
    return low + (key + interval - low) % 12


def _render_drums(style: DrumStyle, plan: _Plan, rng: np.random.Generator, out: np.ndarray) -> None:
    sr = plan.sr
    for name, rhythm in style.lines.items():
        shot = _drum_sound(name, int(rng.integers(DRUM_VARIANTS)), sr)
        for step in _hits(rhythm, plan, rng):
            _add(out, shot, plan.sample(step), _velocity(rng, step))
    extras = {}
    if style.crash_bars:
        extras["crash"] = range(0, plan.n_steps, STEPS * style.crash_bars)
    if style.fill_prob:
        fills = [
            b + s
            for b in range(0, plan.n_steps, STEPS)
            if rng.random() < style.fill_prob
            for s in range(12, 16)
        ]
        extras["snare"] = fills
    for name, steps in extras.items():
        shot = _drum_sound(name, int(rng.integers(DRUM_VARIANTS)), sr)
        for step in steps:
            if step < plan.n_steps:
                _add(out, shot, plan.sample(step), rng.uniform(0.6, 0.9))


def _add(out: np.ndarray, shot: np.ndarray, start: int, gain: float) -> None:
    """Add ``shot`` at sample ``start`` (negative: it began before the excerpt)."""
    first, last = max(0, -start), min(shot.size, out.size - start)
    if last > first:
        out[start + first : start + last] += np.float32(gain) * shot[first:last]


def _voice(timbres: Mapping[str, float], rng: np.random.Generator, sr: int) -> _Voice:
    return _Voice(INSTRUMENTS[_pick(rng, timbres)], rng.uniform(-0.3, 0.6), sr)


def _bass_intervals(
    style: BassStyle, hits: np.ndarray, plan: _Plan, rng: np.random.Generator
) -> list[int]:
    """Semitones above each bass note's chord root."""
    if style.motion == "cycle":
        return [style.cycle[i % len(style.cycle)] for i in range(hits.size)]
    if style.motion == "chord":
        return [
            int(
                rng.choice(
                    [0, 0, 7, 12, *(t - plan.chord_roots[s] for t in plan.chord_tones[s][1:3])]
                )
            )
            for s in hits
        ]
    if style.motion == "walk":
        return _walking_line(hits, plan, rng)
    return [0] * hits.size


def _walking_line(hits: np.ndarray, plan: _Plan, rng: np.random.Generator) -> list[int]:
    """Jazz walking bass: the root on a chord change, chord or scale tones in between, and
    a chromatic approach into the next chord's root."""
    line = []
    for i, s in enumerate(hits):
        root = plan.chord_roots[s]
        nxt = hits[i + 1] if i + 1 < hits.size else s
        if s == 0 or plan.chord_roots[s - 1] != root:
            line.append(0)
        elif plan.chord_roots[nxt] != root:
            line.append(plan.chord_roots[nxt] - root + int(rng.choice([-1, 1, -2])))
        else:
            tone = rng.choice([*plan.chord_tones[s], *(_degree(plan.scale, d) for d in range(7))])
            line.append(int(tone) - root)
    return line


def _render_bass(style: BassStyle, plan: _Plan, rng: np.random.Generator, out: np.ndarray) -> None:
    voice = _voice(style.timbres, rng, plan.sr)
    hits = _hits(style.rhythm, plan, rng)
    lengths = _note_lengths(hits, style.gate, plan)
    for step, interval, length in zip(
        hits, _bass_intervals(style, hits, plan, rng), lengths, strict=True
    ):
        midi = _register(style.low, plan.key, plan.chord_roots[step]) + interval
        while midi > style.low + 19:  # keep walking lines and fifths in the bass register
            midi -= 12
        _render_note(out, voice, plan.sample(step), midi, length, _velocity(rng, step))


def _voicing(style: HarmonyStyle, plan: _Plan, step: int) -> list[int]:
    tones = plan.chord_tones[step]
    root = _register(style.low, plan.key, tones[0])
    if style.voicing == "power":
        return [root, root + 7, root + 12]
    notes = [root + t - tones[0] for t in tones]
    if style.voicing == "spread" and len(notes) > 2:
        notes[1] += 12  # open voicing: the third an octave up
    return notes


def _render_harmony(
    style: HarmonyStyle, plan: _Plan, rng: np.random.Generator, out: np.ndarray
) -> None:
    voice = _voice(style.timbres, rng, plan.sr)
    hits = _hits(style.rhythm, plan, rng)
    lengths = _note_lengths(hits, style.gate, plan)
    for i, (step, length) in enumerate(zip(hits, lengths, strict=True)):
        notes = _voicing(style, plan, step)
        velocity = _velocity(rng, step) / np.sqrt(len(notes))
        if style.voicing == "arpeggio":  # broken chord: one tone per hit, up and down
            cycle = notes + notes[-2:0:-1]
            notes = [cycle[i % len(cycle)]]
            velocity = _velocity(rng, step)
        start = plan.sample(step)
        for j, midi in enumerate(notes):
            offset = int(j * style.strum * plan.sr)
            _render_note(out, voice, start + offset, midi, length, velocity)


def _render_lead(style: LeadStyle, plan: _Plan, rng: np.random.Generator, out: np.ndarray) -> None:
    """A random-walk melody over the scale, in phrases separated by rests."""
    voice = _voice(style.timbres, rng, plan.sr)
    scale = plan.scale if style.scale == "mode" else LEAD_SCALES[style.scale]
    ladder = [_register(style.low, plan.key, 0) + 12 * o + s for o in range(2) for s in scale]
    hits = _hits(style.rhythm, plan, rng)
    # Phrases: two bars playing, then about a bar of rest.
    hits = hits[(hits // STEPS) % 3 != 2]
    lengths = _note_lengths(hits, style.gate, plan)
    position = int(rng.integers(len(ladder)))
    for step, length in zip(hits, lengths, strict=True):
        move = (
            int(rng.choice([-2, -1, -1, 0, 1, 1, 2]))
            if rng.random() > 0.15
            else int(rng.integers(-4, 5))
        )
        position = int(np.clip(position + move, 0, len(ladder) - 1))
        bend = 2.0 if rng.random() < style.bend_prob else 0.0
        _render_note(
            out,
            voice,
            plan.sample(step),
            ladder[position],
            min(length, 0.6),
            _velocity(rng, step),
            bend=bend,
        )
    if voice.inst.drive:
        out[:] = _distort(out, voice.inst.drive, plan.sr)


def _assign_roles(
    styles: Sequence[Style], rng: np.random.Generator
) -> tuple[dict[str, Style], set[str]]:
    """Which genre plays which role, and the roles some genre depends on to be heard.

    Every genre after the first takes one musical role it can play (classical has no
    drums), mostly one that carries the genre best (its ``signature``); the first genre,
    the track's main one, plays the rest and sets the production.  A role nobody can play
    goes to a random genre of the track.
    """
    roles: dict[str, Style] = {}
    for index in rng.permutation(len(styles) - 1):
        style = styles[1 + index]
        playable = [
            r
            for r in MUSICAL_ROLES
            if r not in roles and (r != "drums" or style.drums) and (r != "lead" or style.lead)
        ]
        preferred = [r for r in style.signature if r in playable]
        choices = preferred if preferred and rng.random() < 0.9 else playable
        roles[choices[rng.integers(len(choices))]] = style
    main = styles[0]
    for role in MUSICAL_ROLES:
        if role not in roles and (role != "drums" or main.drums):
            roles[role] = main
    essential = set(roles) if len(styles) > 1 else set()
    roles["production"] = main
    for role in MUSICAL_ROLES:
        if role not in roles:
            roles[role] = styles[rng.integers(len(styles))]
    return roles, essential


def render_track(
    genres: Sequence[str],
    seed: int,
    duration: float = DEFAULT_DURATION,
    sample_rate: int = DEFAULT_SAMPLE_RATE,
) -> np.ndarray:
    """Mono float32 audio, ``duration`` seconds at ``sample_rate``, of a track in the given
    genre(s).  With several genres the first is the main one: each other genre plays one
    of drums, bass, harmony and lead, the main genre the rest.  The same arguments give
    the same samples."""
    unknown = [g for g in genres if g not in STYLES]
    if unknown or not genres:
        raise ValueError(f"unknown or no genres {list(genres)}; known: {list(GENRES)}")
    rng = np.random.default_rng(seed)
    roles, essential = _assign_roles([STYLES[g] for g in genres], rng)
    plan = _make_plan(roles, duration, sample_rate, rng)
    n = round(duration * sample_rate)
    stems = {name: np.zeros(n, np.float32) for name in ("drums", "bass", "harmony", "lead")}

    if roles["drums"].drums:
        kit = roles["drums"].drums[rng.integers(len(roles["drums"].drums))]
        _render_drums(kit, plan, rng, stems["drums"])
    bass = roles["bass"].bass
    _render_bass(bass[rng.integers(len(bass))], plan, rng, stems["bass"])
    harmony = roles["harmony"].harmony
    _render_harmony(harmony[rng.integers(len(harmony))], plan, rng, stems["harmony"])
    stems["harmony"] = _distort(
        stems["harmony"], _uniform(rng, roles["harmony"].distortion), sample_rate
    )
    lead = roles["lead"]
    if lead.lead and ("lead" in essential or rng.random() < lead.lead_prob):
        _render_lead(lead.lead[rng.integers(len(lead.lead))], plan, rng, stems["lead"])

    gains = {
        "drums": _uniform(rng, roles["drums"].drum_gain),
        "bass": rng.uniform(0.5, 0.8),
        "harmony": rng.uniform(0.45, 0.8),
        "lead": rng.uniform(0.3, 0.55),
    }
    return _mix(stems, gains, roles, plan, rng)


def _mix(
    stems: dict[str, np.ndarray],
    gains: Mapping[str, float],
    roles: Mapping[str, Style],
    plan: _Plan,
    rng: np.random.Generator,
) -> np.ndarray:
    sr = plan.sr
    n = stems["bass"].size
    pump = _uniform(rng, roles["drums"].pump)
    if pump:  # side-chain: bass and chords duck after every beat, like a compressor keyed
        # by the kick (the classic "pumping" of electronic dance music)
        beat = (np.arange(n) / sr + plan.offset) % (4 * plan.step_seconds)
        ducking = (1 - pump * np.exp(-beat / 0.09)).astype(np.float32)
        stems["bass"] *= ducking
        stems["harmony"] *= ducking
    mix = sum(np.float32(gains[name]) * _normalised(stem) for name, stem in stems.items())
    production = roles["production"]
    wet = _uniform(rng, production.reverb)
    mix += np.float32(wet) * _reverb(mix, 0.4 + 3 * wet, sr)
    mix = _filter(mix, "lowpass", _uniform(rng, production.cutoff), sr)
    # Recording and mastering differ from track to track: more or less low end.
    mix += np.float32(rng.uniform(-0.5, 1.0)) * _filter(mix, "lowpass", 250, sr)
    level = _rms(mix)
    mix += np.float32(_uniform(rng, production.noise) * level) * _noise(rng, n)
    if production.crackle:  # vinyl: sparse clicks
        clicks = rng.integers(n, size=rng.poisson(production.crackle * rng.random() * n / sr))
        mix[clicks] += 3 * level * rng.standard_normal(clicks.size).astype(np.float32)
    peak = np.abs(mix).max()
    return mix * np.float32(rng.uniform(0.5, 0.9) / peak) if peak > 0 else mix


@lru_cache(maxsize=32)
def _room_spectrum(seconds: float, sr: int, n_fft: int) -> np.ndarray:
    """Spectrum of a room's impulse response: exponentially decaying, darkened noise."""
    rng = np.random.default_rng([round(seconds * 1000), sr])
    n = int(min(seconds, 1.5) * sr)
    ir = _filter(rng.standard_normal(n), "lowpass", 4000, sr) * _decay(n, seconds / 6.9, sr)
    ir[: int(0.01 * sr)] = 0  # pre-delay: the first reflection arrives after the dry sound
    return np.fft.rfft(ir / np.sqrt(np.sum(ir**2)), n_fft).astype(np.complex64)


def _reverb(x: np.ndarray, seconds: float, sr: int) -> np.ndarray:
    """The wet signal of a room with reverberation time ``seconds``, as loud as ``x``.

    Convolved at half the sample rate (the tail is dark anyway) and with one of a few
    cached rooms: this is the costliest step of the mix."""
    half = x[: x.size // 2 * 2].reshape(-1, 2).mean(axis=1)
    seconds = round(seconds, 1)
    n_fft = scipy_fft.next_fast_len(half.size + int(min(seconds, 1.5) * sr / 2), real=True)
    spectrum = scipy_fft.rfft(half, n_fft) * _room_spectrum(seconds, sr // 2, n_fft)
    wet_half = scipy_fft.irfft(spectrum, n_fft)[: half.size].astype(np.float32)
    wet = np.empty_like(x)
    wet[0 : 2 * half.size : 2] = wet_half
    wet[1 : 2 * half.size : 2] = 0.5 * (wet_half + np.append(wet_half[1:], wet_half[-1]))
    if x.size % 2:
        wet[-1] = wet_half[-1]
    return _normalised(wet) * np.float32(_rms(x))
