"""Cheap baselines trained on the same train split, so a fine-tuned model's lift can be shown.

Classification: TF-IDF + logistic regression; multilabel: the same, one-vs-rest; extraction: the
most frequent tag of each lowercased word seen in train, else O.
"""

from __future__ import annotations

from collections import Counter, defaultdict

import numpy as np

from .types import Example
from .words import spans_to_tags, tags_to_spans, word_offsets

NAMES = {
    "classification": "tfidf_logreg",
    "multilabel": "tfidf_logreg_one_vs_rest",
    "extraction": "most_frequent_tag_per_word",
}


def _vectorizer():
    # scikit-learn takes a fraction of a second to import: only processes that evaluate pay for it.
    from sklearn.feature_extraction.text import TfidfVectorizer

    return TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, lowercase=True)


class TextBaseline:
    """TF-IDF + logistic regression; ``scores`` returns (n_texts, n_labels) probabilities."""

    def __init__(self, task: str, labels: list[str], train: list[Example]):
        # On use, like _vectorizer's import.
        from sklearn.linear_model import LogisticRegression
        from sklearn.multiclass import OneVsRestClassifier

        self.task, self.labels = task, list(labels)
        if task == "classification":
            train = [ex for ex in train if ex.label in self.labels]
        texts = [ex.text for ex in train]
        self.vectorizer = _vectorizer().fit(texts)
        x = self.vectorizer.transform(texts)
        self.constant: np.ndarray | None = None
        if task == "classification":
            y = np.array([self.labels.index(ex.label) for ex in train])
            if len(set(y.tolist())) < 2:  # logistic regression needs two classes; predict the only one
                self.constant = np.eye(len(self.labels))[y[0]]
            else:
                self.model = LogisticRegression(C=10.0, max_iter=2000).fit(x, y)
        else:
            y = np.array([[lab in (ex.labels or []) for lab in self.labels] for ex in train], dtype=int)
            # Columns with a single value cannot be fitted; they are answered with their train rate.
            self.fixed = {
                j: float(y[:, j].mean()) for j in range(y.shape[1]) if y[:, j].min() == y[:, j].max()
            }
            fit_cols = [j for j in range(y.shape[1]) if j not in self.fixed]
            self.fit_cols = fit_cols
            if fit_cols:
                self.model = OneVsRestClassifier(LogisticRegression(C=10.0, max_iter=2000)).fit(
                    x, y[:, fit_cols]
                )

    def scores(self, texts: list[str]) -> np.ndarray:
        if self.task == "classification":
            if self.constant is not None:
                return np.tile(self.constant, (len(texts), 1))
            out = np.zeros((len(texts), len(self.labels)))
            out[:, self.model.classes_] = self.model.predict_proba(self.vectorizer.transform(texts))
            return out
        out = np.zeros((len(texts), len(self.labels)))
        for j, rate in self.fixed.items():
            out[:, j] = rate
        if self.fit_cols:
            out[:, self.fit_cols] = self.model.predict_proba(self.vectorizer.transform(texts))
        return out


class TagBaseline:
    """Most frequent tag per lowercased word in train; unseen words are O."""

    def __init__(self, train: list[Example]):
        counts: dict[str, Counter] = defaultdict(Counter)
        for ex in train:
            offsets = word_offsets(ex.text, ex.tokens)
            for (s, e), tag in zip(offsets, spans_to_tags(offsets, ex.entities or []), strict=True):
                counts[ex.text[s:e].lower()][tag] += 1
        self.table = {word: c.most_common(1)[0][0] for word, c in counts.items()}

    def predict(self, example: Example) -> list[dict]:
        """Entity spans for one example, in the runtime's format (score 1.0)."""
        offsets = word_offsets(example.text, example.tokens)
        tags = [self.table.get(example.text[s:e].lower(), "O") for s, e in offsets]
        return [
            {
                "start": sp.start,
                "end": sp.end,
                "label": sp.label,
                "text": example.text[sp.start : sp.end],
                "score": 1.0,
            }
            for sp in tags_to_spans(offsets, tags)
        ]


def train_baseline(task: str, labels: list[str], train: list[Example]):
    """The baseline for ``task`` fitted on ``train``."""
    if task == "extraction":
        return TagBaseline(train)
    return TextBaseline(task, labels, train)
