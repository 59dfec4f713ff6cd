"""TF-IDF text vectors (scikit-learn: log term frequency, smoothed idf, L2-normalised rows), fitted on a
corpus. The baseline every dense text embedder has to beat, and the sparse half of hybrid search.
"""

from __future__ import annotations

import numpy as np

from retrieval.embedders.base import ImageInput, l2_normalise

# Words of letters and digits; IU reports write anonymised words as 'xxxx': a placeholder, not a word.
TOKEN_PATTERN = r"(?u)\b(?!xxxx\b)[a-z0-9]+\b"


class TfidfEmbedder:
    def __init__(self, vectorizer, name: str = "tfidf") -> None:
        self.vectorizer = vectorizer
        self.dim = len(vectorizer.vocabulary_)
        self.name = f"{name}-{self.dim}"

    @classmethod
    def fit(cls, corpus: list[str], name: str = "tfidf") -> TfidfEmbedder:
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(lowercase=True, token_pattern=TOKEN_PATTERN, sublinear_tf=True, smooth_idf=True)
        vectorizer.fit(corpus)
        return cls(vectorizer, name)

    def sparse_matrix(self, texts: list[str]):
        return self.vectorizer.transform(texts)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return l2_normalise(self.sparse_matrix(texts).toarray())

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        raise TypeError("TF-IDF embeds texts only")
