"""Loaders of real data sets (GTZAN, FMA, MTG-Jamendo, your own collections)."""
