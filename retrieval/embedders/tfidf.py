"""TF-IDF text vectors (log term frequency, smoothed idf, L2-normalised rows), fitted on a corpus.

The baseline every dense text embedder has to beat, and the sparse half of hybrid search.
"""

from __future__ import annotations

import re
from collections import Counter

import numpy as np
from scipy import sparse

from retrieval.embedders.base import ImageInput, l2_normalise

_WORD = re.compile(r"[a-z0-9]+")


def tokenize(text: str) -> list[str]:
    # IU reports replace anonymised words by 'xxxx': a placeholder, not a word.
    return [word for word in _WORD.findall(text.lower()) if word != "xxxx"]


class TfidfEmbedder:
    def __init__(self, vocabulary: dict[str, int], idf: np.ndarray, name: str = "tfidf") -> None:
        self.vocabulary = vocabulary
        self.idf = idf.astype(np.float32)
        self.dim = len(vocabulary)
        self.name = f"{name}-{self.dim}"

    @classmethod
    def fit(cls, corpus: list[str], min_df: int = 1, name: str = "tfidf") -> TfidfEmbedder:
        document_frequency: Counter[str] = Counter()
        for text in corpus:
            document_frequency.update(set(tokenize(text)))
        words = sorted(word for word, count in document_frequency.items() if count >= min_df)
        df = np.array([document_frequency[word] for word in words], dtype=np.float64)
        idf = np.log((1 + len(corpus)) / (1 + df)) + 1
        return cls({word: index for index, word in enumerate(words)}, idf, name)

    def sparse_matrix(self, texts: list[str]) -> sparse.csr_matrix:
        rows, cols, values = [], [], []
        for row, text in enumerate(texts):
            counts = Counter(self.vocabulary[w] for w in tokenize(text) if w in self.vocabulary)
            for column, count in counts.items():
                rows.append(row)
                cols.append(column)
                values.append((1 + np.log(count)) * self.idf[column])
        matrix = sparse.csr_matrix((values, (rows, cols)), shape=(len(texts), self.dim), dtype=np.float32)
        norms = np.sqrt(np.asarray(matrix.multiply(matrix).sum(axis=1)).ravel())
        return sparse.diags(1 / np.maximum(norms, 1e-12)).astype(np.float32) @ matrix

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        return l2_normalise(self.sparse_matrix(texts).toarray())

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        raise TypeError("TF-IDF embeds texts only")
