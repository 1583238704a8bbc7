"""genrebench plugin reproducing Lukashevich, Grollmisch & Abeßer (DAGA 2023), *Quantifying
uncertainty in music genre classification*: a ResNet on 3 s mel patches and an MLP on
pretrained embeddings (OpenL3, ported to PyTorch; musicnn as an offline substitute), whose
calibration is studied with the core's calibrators.  The hooks live in
:mod:`genrebench_lukashevich2023.plugin`."""

__version__ = "0.1.0"
