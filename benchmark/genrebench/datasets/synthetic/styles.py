"""The genres of the synthetic data sets, as data: instruments, scales, patterns and one
:class:`Style` per genre (see the package docstring)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

STEPS = 16  # sixteenth notes per 4/4 bar: the grid every pattern lives on
TABLE_SIZE = 4096  # wavetable length (a power of two: phases wrap with a bit mask)
MUSICAL_ROLES = ("drums", "bass", "harmony", "lead")


# =========================================================================== style data
@dataclass(frozen=True)
class Instrument:
    """A pitched sound: a harmonic spectrum and an envelope (times in seconds)."""

    harmonics: tuple[float, ...]
    attack: float
    decay: float
    sustain: float  # level the decay settles at, 0..1
    release: float
    vibrato: float = 0.0  # depth in semitones
    glide: float = 0.0  # semitones the pitch falls from at the onset (808 bass)
    drive: float = 0.0  # the instrument's own distortion (a lead guitar's pedal)


@dataclass(frozen=True)
class DrumStyle:
    """Drum sounds and their 16-step patterns (see :func:`pattern`)."""

    lines: Mapping[str, str]
    crash_bars: int = 0  # a crash cymbal every this many bars (0: never)
    fill_prob: float = 0.0  # chance a bar ends with a snare fill


@dataclass(frozen=True)
class BassStyle:
    rhythm: str
    timbres: Mapping[str, float]
    motion: str = "root"  # root | cycle (intervals in turn) | walk (jazz) | chord
    cycle: tuple[int, ...] = (0,)
    gate: float = 0.0  # note length in steps; 0 = until the next note
    low: int = 33  # lowest MIDI note of the register


@dataclass(frozen=True)
class HarmonyStyle:
    rhythm: str
    timbres: Mapping[str, float]
    voicing: str = "close"  # close | spread | power | arpeggio
    gate: float = 0.0
    strum: float = 0.0  # seconds between successive chord tones
    low: int = 52


@dataclass(frozen=True)
class LeadStyle:
    rhythm: str
    timbres: Mapping[str, float]
    scale: str = "mode"  # mode (the track's) or a key of LEAD_SCALES
    gate: float = 0.0
    bend_prob: float = 0.0
    low: int = 64


@dataclass(frozen=True)
class Style:
    """One genre.  Pairs are (low, high) ranges each track draws from uniformly; parts
    are alternatives a track picks one of."""

    name: str
    description: str
    tempo: tuple[float, float]
    modes: Mapping[str, float]
    progressions: tuple[tuple[int, ...], ...]  # scale degrees, 0 = tonic
    bass: tuple[BassStyle, ...]
    harmony: tuple[HarmonyStyle, ...]
    drums: tuple[DrumStyle, ...] = ()  # empty: no drums
    lead: tuple[LeadStyle, ...] = ()
    lead_prob: float = 0.0
    bars_per_chord: tuple[float, ...] = (1.0,)
    chord_size: tuple[int, int] = (3, 3)
    dominant: bool = False  # every chord a dominant seventh (blues)
    swing: tuple[float, float] = (0.0, 0.0)  # 0 straight .. 1/3 triplet shuffle
    swing_unit: int = 8  # 8: the "and"s are late; 16: every other sixteenth
    humanize: float = 0.004  # timing jitter, seconds
    drum_gain: tuple[float, float] = (0.8, 1.1)
    distortion: tuple[float, float] = (0.0, 0.0)  # 0 clean .. 1 heavy, on the chord part
    pump: tuple[float, float] = (0.0, 0.0)  # side-chain ducking depth
    reverb: tuple[float, float] = (0.05, 0.2)
    noise: tuple[float, float] = (0.0, 0.01)  # hiss, relative to the mix RMS
    crackle: float = 0.0  # vinyl clicks per second
    cutoff: tuple[float, float] = (6000.0, 11000.0)  # final low-pass, Hz
    #: The roles that carry the genre best, preferred in multi-label mixes.
    signature: tuple[str, ...] = ("harmony", "drums")


def pattern(text: str) -> np.ndarray:
    """Per-step hit probabilities of a 16-step line: ``x`` always, ``.`` never, a digit
    ``d`` with probability d/10."""
    if len(text) != STEPS:
        raise ValueError(f"pattern {text!r} must have {STEPS} steps")
    return np.array([1.0 if c == "x" else 0.0 if c == "." else int(c) / 10 for c in text])


def _saw(n: int, tilt: float = 1.0) -> tuple[float, ...]:
    return tuple(1.0 / k**tilt for k in range(1, n + 1))


def _odd(n: int) -> tuple[float, ...]:
    return tuple((1.0 / k if k % 2 else 0.08 / k) for k in range(1, n + 1))


def _pluck(position: float, n: int) -> tuple[float, ...]:
    # A string plucked at `position` of its length lacks the harmonics with a node there.
    return tuple(abs(np.sin(np.pi * k * position)) / k for k in range(1, n + 1))


INSTRUMENTS: dict[str, Instrument] = {
    "piano": Instrument(_saw(14, 1.4), 0.003, 0.5, 0.05, 0.15),
    "epiano": Instrument((1, 0.3, 0.05, 0.22, 0.02, 0.06), 0.003, 0.9, 0.1, 0.2),
    "organ": Instrument((1, 0.9, 0.5, 0.7, 0, 0.3, 0, 0.45), 0.01, 1.0, 1.0, 0.05),
    "strings": Instrument(_saw(16), 0.15, 1.0, 1.0, 0.4, vibrato=0.12),
    "pad": Instrument(_saw(12, 1.6), 0.3, 1.0, 1.0, 0.6),
    "clean_guitar": Instrument(_pluck(0.2, 14), 0.002, 0.4, 0.1, 0.1),
    "acoustic_guitar": Instrument(_pluck(0.12, 18), 0.001, 0.7, 0.0, 0.2),
    "dist_guitar": Instrument(_pluck(0.25, 10), 0.005, 2.0, 0.7, 0.08),
    "lead_guitar": Instrument(_pluck(0.25, 10), 0.005, 2.0, 0.8, 0.1, vibrato=0.15, drive=0.6),
    "steel_guitar": Instrument(_pluck(0.1, 16), 0.01, 1.2, 0.5, 0.2, vibrato=0.1),
    "saw_synth": Instrument(_saw(20), 0.005, 0.3, 0.6, 0.1),
    "square_synth": Instrument(_odd(15), 0.005, 0.25, 0.5, 0.08),
    "brass": Instrument((1, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.25, 0.2, 0.15), 0.04, 1, 0.8, 0.1),
    "sax": Instrument(
        (1, 0.6, 0.8, 0.4, 0.5, 0.3, 0.3, 0.2, 0.15, 0.1), 0.03, 1, 0.8, 0.1, vibrato=0.15
    ),
    "flute": Instrument((1, 0.15, 0.05, 0.02), 0.06, 1.0, 0.9, 0.15, vibrato=0.2),
    "fiddle": Instrument(_saw(14), 0.05, 1.0, 0.9, 0.15, vibrato=0.25),
    "bass_finger": Instrument((1, 0.6, 0.3, 0.2, 0.1, 0.05), 0.005, 0.4, 0.4, 0.08),
    "bass_pick": Instrument(_pluck(0.15, 10), 0.003, 0.3, 0.3, 0.06),
    "upright": Instrument((1, 0.4, 0.15, 0.08), 0.01, 0.35, 0.15, 0.1),
    "bass_808": Instrument((1, 0.05), 0.002, 1.2, 0.3, 0.2, glide=5.0),
    "synth_bass": Instrument(_saw(12, 1.3), 0.003, 0.2, 0.5, 0.05),
    "cello": Instrument(_saw(12), 0.08, 1.0, 0.9, 0.3, vibrato=0.12),
}

MODES: dict[str, tuple[int, ...]] = {
    "major": (0, 2, 4, 5, 7, 9, 11),
    "minor": (0, 2, 3, 5, 7, 8, 10),
    "dorian": (0, 2, 3, 5, 7, 9, 10),
    "mixolydian": (0, 2, 4, 5, 7, 9, 10),
    "phrygian": (0, 1, 3, 5, 7, 8, 10),
    "harmonic_minor": (0, 2, 3, 5, 7, 8, 11),
}
LEAD_SCALES: dict[str, tuple[int, ...]] = {
    "penta_minor": (0, 3, 5, 7, 10),
    "penta_major": (0, 2, 4, 7, 9),
    "blues": (0, 3, 5, 6, 7, 10),
}

_BACKBEAT = "....x.......x..."
_FOUR_ON_FLOOR = "x...x...x...x..."
_EIGHTHS = "x.x.x.x.x.x.x.x."
_OFFBEAT_EIGHTHS = "..x...x...x...x."

STYLES: dict[str, Style] = {
    s.name: s
    for s in (
        Style(
            "blues",
            "shuffled 12-bar dominant-seventh blues, boogie bass, bent pentatonic lead",
            tempo=(70, 125),
            swing=(0.2, 0.33),
            modes={"mixolydian": 0.7, "minor": 0.3},
            progressions=(
                (0, 0, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4),
                (0, 3, 0, 0, 3, 3, 0, 0, 4, 3, 0, 4),
            ),
            chord_size=(4, 4),
            dominant=True,
            drums=(
                DrumStyle({"kick": "x.......x.....3.", "snare": _BACKBEAT, "closed_hat": _EIGHTHS}),
                DrumStyle({"kick": "x.......x.......", "brush": _BACKBEAT, "ride": _EIGHTHS}),
            ),
            bass=(
                BassStyle(
                    _EIGHTHS,
                    {"bass_finger": 0.6, "upright": 0.4},
                    motion="cycle",
                    cycle=(0, 4, 7, 9, 10, 9, 7, 4),
                    gate=1.5,
                ),
                BassStyle("x...x...x...x...", {"bass_finger": 0.5, "upright": 0.5}, motion="walk"),
            ),
            harmony=(
                HarmonyStyle(
                    "x.3.x.3.x.3.x.3.",
                    {"clean_guitar": 0.4, "organ": 0.2, "piano": 0.25, "dist_guitar": 0.15},
                    gate=1.5,
                ),
                HarmonyStyle("x...............", {"organ": 0.6, "epiano": 0.4}),
            ),
            lead=(
                LeadStyle(
                    "6.3.5.36.3.5.3.4",
                    {"lead_guitar": 0.4, "clean_guitar": 0.3, "sax": 0.3},
                    scale="blues",
                    bend_prob=0.4,
                ),
            ),
            lead_prob=0.85,
            distortion=(0.0, 0.45),
            reverb=(0.1, 0.35),
            noise=(0.0, 0.03),
            crackle=0.5,
            cutoff=(4000, 10000),
            signature=("lead", "harmony"),
        ),
        Style(
            "classical",
            "no drums: bowed strings or piano arpeggios, rubato, wide reverb",
            tempo=(60, 130),
            humanize=0.015,
            modes={"major": 0.5, "minor": 0.3, "harmonic_minor": 0.2},
            progressions=((0, 3, 4, 0), (0, 5, 3, 4), (0, 4, 5, 3), (0, 3, 6, 4), (0, 1, 4, 0)),
            bars_per_chord=(1, 2),
            chord_size=(3, 4),
            bass=(
                BassStyle("x.......x.......", {"cello": 0.7, "upright": 0.3}, low=36),
                BassStyle("x...x...x...x...", {"piano": 1.0}, motion="chord", gate=4, low=36),
            ),
            harmony=(
                HarmonyStyle("x...............", {"strings": 0.8, "organ": 0.2}, voicing="spread"),
                HarmonyStyle("xxxxxxxxxxxxxxxx", {"piano": 1.0}, voicing="arpeggio", gate=3),
                HarmonyStyle(
                    "x.x.x.x.x.x.x.x.", {"piano": 0.6, "strings": 0.4}, voicing="arpeggio", gate=2
                ),
            ),
            lead=(
                LeadStyle("x...x...x...x...", {"flute": 0.3, "fiddle": 0.4, "piano": 0.3}),
                LeadStyle("x.x.x.x.x.x.x.x.", {"flute": 0.4, "fiddle": 0.6}),
            ),
            lead_prob=0.7,
            reverb=(0.35, 0.65),
            noise=(0.0, 0.01),
            cutoff=(6000, 11000),
            signature=("harmony", "lead"),
        ),
        Style(
            "country",
            "train beat, root-fifth bass, strummed acoustic guitar, fiddle or steel",
            tempo=(85, 145),
            swing=(0.0, 0.12),
            modes={"major": 0.85, "mixolydian": 0.15},
            progressions=((0, 3, 4, 0), (0, 0, 3, 4), (0, 4, 3, 0), (0, 3, 0, 4)),
            bars_per_chord=(1, 2),
            drums=(
                DrumStyle(
                    {"kick": "x.......x.......", "snare": _BACKBEAT, "closed_hat": _EIGHTHS},
                    fill_prob=0.1,
                ),
                DrumStyle(
                    {
                        "kick": "x.......x.......",
                        "brush": "3.3.x.3.3.3.x.3.",
                        "shaker": "xxxxxxxxxxxxxxxx",
                    }
                ),
            ),
            bass=(
                BassStyle(
                    "x...x...x...x...",
                    {"bass_pick": 0.5, "upright": 0.5},
                    motion="cycle",
                    cycle=(0, 7),
                ),
                BassStyle(
                    "x.......x.......",
                    {"bass_pick": 0.5, "upright": 0.5},
                    motion="cycle",
                    cycle=(0, 7),
                ),
            ),
            harmony=(
                HarmonyStyle(
                    "9.5.9.5.9.5.9.5.", {"acoustic_guitar": 0.75, "clean_guitar": 0.25}, strum=0.02
                ),
                HarmonyStyle(
                    "....x.......x...", {"acoustic_guitar": 0.5, "piano": 0.5}, strum=0.012
                ),
            ),
            lead=(
                LeadStyle(
                    "5.4.5.4.5.4.5.4.",
                    {"fiddle": 0.4, "steel_guitar": 0.4, "clean_guitar": 0.2},
                    scale="penta_major",
                    bend_prob=0.4,
                ),
            ),
            lead_prob=0.8,
            distortion=(0.0, 0.15),
            reverb=(0.1, 0.3),
            noise=(0.0, 0.015),
            cutoff=(4500, 10000),
            signature=("harmony", "lead"),
        ),
        Style(
            "disco",
            "four-on-the-floor, open hats on the off-beat, octave bass, string stabs",
            tempo=(110, 132),
            swing=(0.0, 0.05),
            swing_unit=16,
            modes={"minor": 0.5, "major": 0.3, "dorian": 0.2},
            progressions=((0, 3), (0, 5, 3, 4), (1, 4, 0, 0), (0, 6, 5, 6)),
            bars_per_chord=(1, 2),
            chord_size=(3, 4),
            drums=(
                DrumStyle(
                    {
                        "kick": _FOUR_ON_FLOOR,
                        "snare": _BACKBEAT,
                        "open_hat": _OFFBEAT_EIGHTHS,
                        "closed_hat": "x5x5x5x5x5x5x5x5",
                    }
                ),
                DrumStyle(
                    {"kick": _FOUR_ON_FLOOR, "clap": _BACKBEAT, "open_hat": _OFFBEAT_EIGHTHS},
                    crash_bars=4,
                ),
            ),
            bass=(
                BassStyle(
                    _EIGHTHS,
                    {"bass_finger": 0.6, "synth_bass": 0.4},
                    motion="cycle",
                    cycle=(0, 12),
                    gate=1.5,
                ),
            ),
            harmony=(
                HarmonyStyle(
                    _OFFBEAT_EIGHTHS,
                    {
                        "strings": 0.3,
                        "epiano": 0.2,
                        "organ": 0.1,
                        "clean_guitar": 0.2,
                        "brass": 0.2,
                    },
                    gate=1,
                ),
                HarmonyStyle(
                    "x..3..x...x..3..", {"clean_guitar": 0.4, "epiano": 0.3, "piano": 0.3}, gate=1
                ),
            ),
            lead=(LeadStyle("x...x.x.x...x.x.", {"strings": 0.5, "brass": 0.3, "flute": 0.2}),),
            lead_prob=0.6,
            pump=(0.0, 0.25),
            reverb=(0.1, 0.3),
            cutoff=(5500, 11000),
            signature=("drums", "bass"),
        ),
        Style(
            "electronic",
            "programmed four-on-the-floor, side-chained saw pads, off-beat synth "
            "bass, sequenced square arpeggios",
            tempo=(118, 142),
            swing=(0.0, 0.03),
            swing_unit=16,
            humanize=0.0,
            modes={"minor": 0.7, "phrygian": 0.15, "dorian": 0.15},
            progressions=((0, 5, 2, 6), (0, 0, 5, 6), (0, 3, 4, 0), (0, 6, 5, 6)),
            bars_per_chord=(1, 2),
            chord_size=(3, 4),
            drums=(
                DrumStyle(
                    {
                        "kick": _FOUR_ON_FLOOR,
                        "clap": _BACKBEAT,
                        "open_hat": _OFFBEAT_EIGHTHS,
                        "closed_hat": "xxxxxxxxxxxxxxxx",
                    }
                ),
                DrumStyle(
                    {
                        "kick": _FOUR_ON_FLOOR,
                        "closed_hat": "..x...x...x...x.",
                        "shaker": "5555555555555555",
                    }
                ),
            ),
            bass=(
                BassStyle(_OFFBEAT_EIGHTHS, {"synth_bass": 0.85, "bass_808": 0.15}, gate=1.5),
                BassStyle("x.xxx.xxx.xxx.xx", {"synth_bass": 1.0}, gate=0.8),
            ),
            harmony=(
                HarmonyStyle("x...............", {"pad": 0.5, "saw_synth": 0.5}),
                HarmonyStyle("x..x..x...x..x..", {"saw_synth": 0.6, "square_synth": 0.4}, gate=1),
                HarmonyStyle(
                    "x..x..x...x..x..", {"piano": 0.5, "epiano": 0.3, "organ": 0.2}, gate=1
                ),
            ),
            lead=(
                LeadStyle(
                    "xxxxxxxxxxxxxxxx", {"square_synth": 0.6, "saw_synth": 0.4}, gate=0.8, low=72
                ),
                LeadStyle("x.x.x.x.x.x.x.x.", {"square_synth": 0.5, "saw_synth": 0.5}, gate=1),
            ),
            lead_prob=0.7,
            distortion=(0.0, 0.3),
            pump=(0.15, 0.7),
            reverb=(0.15, 0.4),
            noise=(0.0, 0.01),
            cutoff=(5500, 11000),
            signature=("harmony", "drums"),
        ),
        Style(
            "hiphop",
            "slow syncopated kicks and 808 bass, swung sixteenth hats, lo-fi keys",
            tempo=(78, 100),
            swing=(0.05, 0.25),
            swing_unit=16,
            modes={"minor": 0.8, "dorian": 0.2},
            progressions=((0, 0), (0, 5), (0, 3), (0, 6, 5, 4)),
            bars_per_chord=(2,),
            chord_size=(3, 4),
            drums=(
                DrumStyle({"kick": "x.....x...x..3..", "snare": _BACKBEAT, "closed_hat": _EIGHTHS}),
                DrumStyle(
                    {
                        "kick808": "x......x.x..x...",
                        "clap": _BACKBEAT,
                        "closed_hat": "x8x8x8x8x8x8x8x8",
                    }
                ),
                DrumStyle(
                    {
                        "kick": "x..x......x..x..",
                        "snare": _BACKBEAT,
                        "open_hat": "..3...3...3...3.",
                        "closed_hat": _EIGHTHS,
                    }
                ),
            ),
            bass=(
                BassStyle(
                    "x.....x...x.....",
                    {"bass_808": 0.5, "synth_bass": 0.2, "bass_finger": 0.3},
                    low=28,
                ),
            ),
            harmony=(
                HarmonyStyle(
                    "x.......x.......", {"epiano": 0.35, "piano": 0.25, "pad": 0.2, "strings": 0.2}
                ),
                HarmonyStyle(
                    "x..3..x...x.....", {"piano": 0.4, "epiano": 0.3, "brass": 0.3}, gate=2
                ),
            ),
            lead=(LeadStyle("x.......x...x...", {"flute": 0.5, "square_synth": 0.5}),),
            lead_prob=0.35,
            drum_gain=(1.0, 1.4),
            distortion=(0.0, 0.1),
            reverb=(0.05, 0.2),
            noise=(0.0, 0.03),
            crackle=3.0,
            cutoff=(4000, 10000),
            signature=("drums", "bass"),
        ),
        Style(
            "jazz",
            "swung ride cymbal, walking upright bass, extended chords comped on piano, "
            "sax or trumpet lead",
            tempo=(100, 200),
            swing=(0.25, 0.33),
            modes={"major": 0.5, "dorian": 0.3, "minor": 0.2},
            progressions=((1, 4, 0, 0), (1, 4, 0, 5), (0, 5, 1, 4), (2, 5, 1, 4)),
            bars_per_chord=(1, 0.5),
            chord_size=(4, 5),
            drums=(
                DrumStyle(
                    {
                        "ride": "x...x.x.x...x.x.",
                        "closed_hat": "....x.......x...",
                        "kick": "2.......2.......",
                        "snare": "..1..1...1..1..1",
                    }
                ),
                DrumStyle({"ride": "x...x.x.x...x.x.", "brush": "x.3.x.3.x.3.x.3."}),
            ),
            drum_gain=(0.5, 0.9),
            bass=(
                BassStyle("x...x...x...x...", {"upright": 0.8, "bass_finger": 0.2}, motion="walk"),
            ),
            harmony=(
                HarmonyStyle(
                    "x..3.2..3..2.3..",
                    {"piano": 0.5, "epiano": 0.2, "organ": 0.1, "clean_guitar": 0.2},
                    gate=2,
                ),
                HarmonyStyle("x.......x.......", {"epiano": 0.5, "organ": 0.5}, voicing="spread"),
            ),
            lead=(
                LeadStyle(
                    "7.6.7.6.7.6.7.6.",
                    {"sax": 0.45, "brass": 0.2, "clean_guitar": 0.2, "flute": 0.15},
                ),
            ),
            lead_prob=0.8,
            reverb=(0.15, 0.4),
            noise=(0.0, 0.02),
            crackle=0.5,
            cutoff=(4500, 10000),
            signature=("drums", "bass"),
        ),
        Style(
            "metal",
            "fast double kick, palm-muted distorted power chords, phrygian and harmonic "
            "minor riffs",
            tempo=(120, 200),
            modes={"minor": 0.5, "phrygian": 0.3, "harmonic_minor": 0.2},
            progressions=((0, 0, 5, 6), (0, 1, 0, 6), (0, 5, 3, 4), (0, 6, 5, 6)),
            drums=(
                DrumStyle(
                    {"kick": "9999999999999999", "snare": _BACKBEAT, "crash": "x...x...x...x..."},
                    fill_prob=0.2,
                ),
                DrumStyle(
                    {"kick": "x.x...x.x.x...x.", "snare": _BACKBEAT, "ride": _EIGHTHS},
                    crash_bars=2,
                    fill_prob=0.2,
                ),
            ),
            drum_gain=(0.9, 1.2),
            bass=(
                BassStyle(
                    "x.xxx.xxx.xxx.xx", {"bass_pick": 0.7, "bass_finger": 0.3}, gate=0.9, low=28
                ),
                BassStyle("xxxxxxxxxxxxxxxx", {"bass_pick": 1.0}, gate=0.9, low=28),
            ),
            harmony=(
                HarmonyStyle(
                    "xxxxxxxxxxxxxxxx", {"dist_guitar": 1.0}, voicing="power", gate=0.8, low=40
                ),
                HarmonyStyle(
                    "x.xxx.xxx.xxx.xx", {"dist_guitar": 1.0}, voicing="power", gate=0.9, low=40
                ),
            ),
            lead=(LeadStyle("xxxxxxxxxxxxxxxx", {"lead_guitar": 1.0}, scale="mode", gate=0.9),),
            lead_prob=0.4,
            distortion=(0.45, 1.0),
            reverb=(0.05, 0.25),
            cutoff=(4500, 9500),
            signature=("harmony", "drums"),
        ),
        Style(
            "reggae",
            "one-drop drums, deep syncopated bass, off-beat guitar or organ skank",
            tempo=(64, 92),
            swing=(0.05, 0.2),
            swing_unit=16,
            modes={"minor": 0.5, "major": 0.5},
            progressions=((0, 3), (0, 4), (0, 6), (0, 3, 4, 3)),
            bars_per_chord=(1, 2),
            drums=(
                DrumStyle(
                    {
                        "kick": "........x.......",
                        "rim": "........x.......",
                        "closed_hat": "x.x.x.x.x.x.x.x.",
                    }
                ),
                DrumStyle(
                    {"kick": _FOUR_ON_FLOOR, "rim": _BACKBEAT, "closed_hat": "x3x3x3x3x3x3x3x3"}
                ),
                DrumStyle({"kick": "x.......x.......", "snare": _BACKBEAT, "closed_hat": _EIGHTHS}),
            ),
            bass=(
                BassStyle(
                    "..x.x..x..x.x...",
                    {"bass_finger": 0.6, "synth_bass": 0.2, "bass_808": 0.2},
                    motion="chord",
                    low=28,
                ),
                BassStyle("x..x..x.x..x....", {"bass_finger": 1.0}, motion="chord", low=28),
            ),
            harmony=(
                HarmonyStyle(
                    "....x.......x...", {"clean_guitar": 0.4, "organ": 0.35, "piano": 0.25}, gate=1
                ),
                HarmonyStyle("..x...x...x...x.", {"organ": 0.6, "clean_guitar": 0.4}, gate=1),
            ),
            lead=(LeadStyle("x...x.x.....x...", {"organ": 0.5, "brass": 0.5}),),
            lead_prob=0.4,
            drum_gain=(0.7, 1.0),
            reverb=(0.15, 0.45),
            noise=(0.0, 0.02),
            crackle=1.0,
            cutoff=(4000, 10000),
            signature=("harmony", "drums"),
        ),
        Style(
            "rock",
            "straight backbeat, eighth-note root bass, overdriven power chords or open "
            "strums, pentatonic guitar lead",
            tempo=(95, 160),
            swing=(0.0, 0.08),
            modes={"major": 0.5, "minor": 0.3, "mixolydian": 0.2},
            progressions=((0, 4, 5, 3), (0, 3, 4, 3), (0, 6, 3, 0), (5, 3, 0, 4)),
            bars_per_chord=(1, 2),
            drums=(
                DrumStyle(
                    {"kick": "x.....x.x.3.....", "snare": _BACKBEAT, "closed_hat": _EIGHTHS},
                    crash_bars=4,
                    fill_prob=0.15,
                ),
                DrumStyle(
                    {"kick": "x.......x.x.....", "snare": _BACKBEAT, "ride": _EIGHTHS},
                    crash_bars=2,
                    fill_prob=0.15,
                ),
            ),
            bass=(BassStyle(_EIGHTHS, {"bass_pick": 0.6, "bass_finger": 0.4}, gate=1.8),),
            harmony=(
                HarmonyStyle(_EIGHTHS, {"dist_guitar": 1.0}, voicing="power", gate=1.8, low=40),
                HarmonyStyle(
                    "x..x..x.x..x..x.",
                    {"clean_guitar": 0.4, "dist_guitar": 0.4, "organ": 0.2},
                    strum=0.01,
                ),
            ),
            lead=(
                LeadStyle(
                    "6.4.6.4.6.4.6.4.",
                    {"lead_guitar": 0.7, "clean_guitar": 0.3},
                    scale="penta_minor",
                    bend_prob=0.3,
                ),
            ),
            lead_prob=0.6,
            distortion=(0.2, 0.85),
            reverb=(0.08, 0.3),
            cutoff=(4500, 10000),
            signature=("harmony", "drums"),
        ),
    )
}

#: The genre names, in class order.
GENRES: tuple[str, ...] = tuple(STYLES)
