"""What a run writes and how: the run folder's layout and file formats, atomic and locked
writing, and provenance."""
