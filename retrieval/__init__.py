"""Retrieval: embedders (open_clip image+text, sentence-transformers text), the Chroma case store,
the experience store, OOD scoring and embedder training."""
