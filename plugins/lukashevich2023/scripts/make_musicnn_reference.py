"""Make ``tests/data/musicnn_reference.npz``: what the *shipped* musicnn model (TensorFlow,
the wheel's own code) outputs on one clip, so the tests can check the PyTorch port
without TensorFlow.

Run once, in a separate environment that has TensorFlow and librosa (musicnn 0.1.0 is
installed without its dependencies, which pin an ancient numpy):

    python3.11 -m venv /tmp/tfvenv
    /tmp/tfvenv/bin/pip install tensorflow-cpu==2.21.0 tf-keras==2.21.0 librosa==0.11.0 soundfile
    /tmp/tfvenv/bin/pip install --no-deps musicnn==0.1.0
    cd plugins/lukashevich2023
    TF_USE_LEGACY_KERAS=1 /tmp/tfvenv/bin/python scripts/make_musicnn_reference.py

The clip is synthetic and defined here (:func:`reference_clip`), so the tests rebuild it
bit for bit: 7 s at 16 kHz of a chord with a bass line and noise bursts.  The fixture holds
the input patches that musicnn's own ``extractor.batch_data`` makes of it (3 s patches, a
1 s hop) and the taggram, ``penultimate``, ``max_pool`` and ``mean_pool`` outputs of
``MSD_musicnn`` and ``MTT_musicnn`` computed by the package's own TensorFlow graph.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

SAMPLE_RATE = 16000
SECONDS = 7.0
OUT = Path(__file__).resolve().parent.parent / "tests" / "data" / "musicnn_reference.npz"


def reference_clip() -> np.ndarray:
    """Deterministic 7 s test signal (float32, 16 kHz)."""
    t = np.arange(int(SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (261.63, 329.63, 392.0)) / 3
    bass = np.sin(2 * np.pi * 65.41 * (1 + (t % 2 > 1)) * t)
    rng = np.random.default_rng(12345)
    bursts = rng.standard_normal(len(t)) * (np.sin(2 * np.pi * 2 * t) > 0.7)
    # quiet enough that musicnn's float16 log-mel stays finite (see musicnn.logmel)
    return (0.03 * chord + 0.03 * bass + 0.01 * bursts).astype(np.float32)


def main() -> None:
    import soundfile as sf
    import tensorflow as tf
    from musicnn import configuration as config
    from musicnn import extractor, models

    tf.compat.v1.disable_eager_execution()
    wav = OUT.with_suffix(".wav")
    sf.write(wav, reference_clip(), SAMPLE_RATE, subtype="FLOAT")
    n_frames = 187
    overlap = 61  # librosa.time_to_frames(1.0, sr=16000, n_fft=512, hop_length=256)
    batch, _ = extractor.batch_data(str(wav), n_frames, overlap)
    wav.unlink()
    result = {"patches": batch.astype(np.float32)}
    for name in ("MSD_musicnn", "MTT_musicnn"):
        tf.compat.v1.reset_default_graph()
        x = tf.compat.v1.placeholder(tf.float32, [None, n_frames, config.N_MELS])
        is_training = tf.compat.v1.placeholder(tf.bool)
        with tf.name_scope("model"):
            y, _, _, _, _, _, mean_pool, max_pool, penultimate = models.define_model(
                x, is_training, name, 50
            )
        with tf.compat.v1.Session() as sess:
            tf.compat.v1.train.Saver().restore(sess, str(Path(models.__file__).parent / name) + "/")
            taggram, pen, mx, mn = sess.run(
                [tf.nn.sigmoid(y), penultimate, max_pool, mean_pool],
                feed_dict={x: batch, is_training: False},
            )
        result[f"{name}/taggram"] = taggram
        result[f"{name}/penultimate"] = pen
        result[f"{name}/max_pool"] = np.squeeze(mx, 2) if mx.ndim == 3 else mx
        result[f"{name}/mean_pool"] = np.squeeze(mn, 2) if mn.ndim == 3 else mn
    result["versions"] = np.array(
        [f"tensorflow {tf.__version__}", f"python {sys.version.split()[0]}"]
    )
    np.savez_compressed(OUT, **result)
    print(f"wrote {OUT}: " + ", ".join(f"{k} {v.shape}" for k, v in result.items()))


if __name__ == "__main__":
    main()
