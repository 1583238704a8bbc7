"""genrebench plugin reproducing Yan, Wang & Wu (2023), *Music Genre Classification with
Machine Learning*: a softmax-regression baseline and CNNs on GTZAN's spectrogram images, a
6-CNN majority-vote ensemble, and Wav2Vec2 classifiers with frozen layers and biased/main
training.  The hooks live in :mod:`genrebench_yan2023.plugin`."""

__version__ = "0.1.0"
