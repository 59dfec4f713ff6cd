"""A text embedder trained on labelled reports: TF-IDF features, one logistic regression per label
(scikit-learn, one-vs-rest), and a report's vector is the square root of its predicted label
probabilities (L2-normalised), so reports a model reads as having the same findings lie close together.

Why: IU X-ray report->report relevance is "same set of MeSH major heads", and word overlap (TF-IDF,
P@10 0.37) or a general sentence model (MiniLM, 0.35) ranks reports by wording, not by what they find.
Trained on the labels of one half of the reports, it ranks the held-out half by findings. The square root
(the Hellinger map) keeps small probabilities from vanishing next to a dominant label. Labels seen fewer
than MIN_LABEL_COUNT times in training are left out: a regression on a handful of examples is noise.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from retrieval.embedders.base import ImageInput, l2_normalise
from retrieval.embedders.tfidf import TfidfEmbedder

MIN_LABEL_COUNT = 5
REGULARISATION_C = 10.0


class LabelledTextEmbedder:
    def __init__(self, tfidf: TfidfEmbedder, classifier, labels: list[str], name: str = "labelled-text") -> None:
        self.tfidf = tfidf
        self.classifier = classifier
        self.labels = labels
        self.dim = len(labels)
        self.name = f"{name}-{self.dim}"

    @classmethod
    def fit(
        cls, texts: list[str], label_sets: list[Iterable[str]], name: str = "labelled-text", seed: int = 0
    ) -> LabelledTextEmbedder:
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier
        from sklearn.preprocessing import MultiLabelBinarizer

        if len(texts) != len(label_sets) or not texts:
            raise ValueError("need one label set per text, and at least one text")
        binarizer = MultiLabelBinarizer()
        targets = binarizer.fit_transform([sorted(labels) for labels in label_sets])
        keep = targets.sum(axis=0) >= MIN_LABEL_COUNT
        if keep.sum() < 2:
            raise ValueError(f"need at least two labels seen {MIN_LABEL_COUNT} or more times to train on")
        tfidf = TfidfEmbedder.fit(texts)
        classifier = OneVsRestClassifier(LogisticRegression(C=REGULARISATION_C, max_iter=2000, random_state=seed))
        classifier.fit(tfidf.sparse_matrix(texts), targets[:, keep])
        return cls(tfidf, classifier, [str(label) for label in binarizer.classes_[keep]], name)

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        probabilities = self.classifier.predict_proba(self.tfidf.sparse_matrix(texts))
        return l2_normalise(np.sqrt(np.asarray(probabilities, dtype=np.float32)))

    def embed_images(self, images: list[ImageInput]) -> np.ndarray:
        raise TypeError("the labelled-text embedder embeds texts only")
