"""genrebench plugin reproducing Pocelli & Sordetti (2024), *Music genre classification*: a
small U-Net followed by parallel convolutions on 6 s log-mel clips of GTZAN songs, split by
song, with and without on-the-fly spectrogram augmentation.  The hooks live in
:mod:`genrebench_pocelli2024.plugin`."""

__version__ = "0.1.0"
