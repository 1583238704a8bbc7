"""The embedded data sets: a deterministic procedural music generator.

Each genre is a :class:`Style`: tempo and swing ranges, modes and chord progressions,
drum patterns, a bass line, a chord part, an optional lead line, and production
(distortion, side-chain pumping, reverb, hiss, low-pass).  A track draws its own values
from its genre's ranges and picks among the genre's alternative parts, so tracks of one
genre differ and neighbouring genres overlap (rock and metal share distorted guitars,
disco and electronic share four-on-the-floor kicks, jazz and blues share swing).

A multi-label track takes each *role* (drums, bass, harmony, lead) from one of its 1–3
genres: every other genre plays one role, mostly the one that carries it best (metal's
guitars, jazz's ride and walking bass), and the main genre plays the rest and sets the
production.  Its labels are all the genres heard.

:func:`generate` writes a data set once as 16-bit wav files plus ``manifest.csv``
(``track_id,path,label,split``) and ``generator.json``; the loader then reads the audio
back through :func:`genrebench.audio.load_audio`, like any real data set.  Everything is
drawn from seeded generators: the same parameters give byte-identical files (on one
platform; numpy's vectorised exp/sin may round differently on another CPU family).
"""

from genrebench.datasets.synthetic.render import render_track
from genrebench.datasets.synthetic.sets import (
    DEFAULT_DURATION,
    DEFAULT_SAMPLE_RATE,
    DEFAULT_SEED,
    DEFAULT_TRACKS_PER_CLASS,
    GENERATOR_VERSION,
    MULTI_LABEL_SET,
    SINGLE_LABEL_SET,
    generate,
)
from genrebench.datasets.synthetic.styles import GENRES, STYLES, Style

__all__ = [
    "DEFAULT_DURATION",
    "DEFAULT_SAMPLE_RATE",
    "DEFAULT_SEED",
    "DEFAULT_TRACKS_PER_CLASS",
    "GENERATOR_VERSION",
    "GENRES",
    "MULTI_LABEL_SET",
    "SINGLE_LABEL_SET",
    "STYLES",
    "Style",
    "generate",
    "render_track",
]
