"""From per-track probabilities to numbers: the metrics, post-hoc calibration, the
reliability-diagram data, and the leaderboard's own column names."""
