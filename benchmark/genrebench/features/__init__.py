"""Audio to model inputs: feature extraction (in crash-isolated worker processes), the
feature cache, lazily read cached arrays, and cutting features into segments."""
