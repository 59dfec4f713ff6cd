"""Embedders turn images and texts into L2-normalised float32 vectors (see `base.Embedder`)."""
