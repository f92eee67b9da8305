"""End models trained on probabilistic labels, saved without pickle.

:class:`SoftTextClassifier` is TF-IDF features plus logistic regression.  It
learns from soft labels by expanding each example into ``k`` rows, one per
class, weighted by that class's probability: the weighted log-loss is then the
cross-entropy against the soft label, so the model sees the label model's
uncertainty instead of its argmax.

>>> import numpy as np
>>> texts = ["buy cheap pills", "great song", "cheap pills here", "love this song"]
>>> probs = np.array([[0.1, 0.9], [0.8, 0.2], [0.2, 0.8], [0.9, 0.1]])
>>> clf = SoftTextClassifier(seed=0).fit(texts, probs)
>>> clf.predict(["cheap pills", "song"]).tolist()
[1, 0]

Saved models are skops files: :meth:`SoftTextClassifier.load` only loads types
from scikit-learn, SciPy and NumPy and refuses anything else.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import skops.io as sio
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import FeatureUnion, Pipeline

TRUSTED_PREFIXES = ("sklearn.", "scipy.", "numpy.", "builtins.", "collections.", "re.")


class SoftTextClassifier:
    """TF-IDF (word 1–2-grams plus character 2–5-grams) and logistic regression.

    ``C`` is the inverse regularisation strength; ``seed`` fixes the solver.
    """

    def __init__(self, C: float = 3.0, min_df: int = 1, seed: int = 0) -> None:
        self.C = C
        self.min_df = min_df
        self.seed = seed

    def _features(self) -> FeatureUnion:
        return FeatureUnion(
            [
                ("words", TfidfVectorizer(ngram_range=(1, 2), min_df=self.min_df, sublinear_tf=True)),
                (
                    "chars",
                    TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=self.min_df, sublinear_tf=True),
                ),
            ]
        )

    def fit(self, texts: Sequence[str], probs: np.ndarray) -> SoftTextClassifier:
        """Fit on ``texts`` with soft labels ``probs`` of shape (n, k)."""
        probs = np.asarray(probs, dtype=float)
        if probs.ndim != 2 or probs.shape[0] != len(texts):
            raise ValueError(f"probs must be (n, k) with n = {len(texts)} texts, got shape {probs.shape}")
        if len(texts) == 0:
            raise ValueError("no training examples: the label model covered none (check the LFs' coverage)")
        n, k = probs.shape
        rows, classes = np.nonzero(probs > 0)
        present = np.unique(classes)
        if len(present) != k:
            raise ValueError(
                f"the soft labels put weight on only {len(present)} of {k} classes; the end model needs all of them"
            )
        # Featurise each text once, then expand the rows (not the texts) k ways.
        features = self._features()
        X = features.fit_transform(np.asarray(texts, dtype=object))
        # liblinear is the fast exact solver for two classes; lbfgs fits the multinomial model beyond.
        model = LogisticRegression(
            C=self.C, solver="liblinear" if k == 2 else "lbfgs", max_iter=2000, random_state=self.seed
        )
        model.fit(X[rows], classes, sample_weight=probs[rows, classes])
        self.pipeline_ = Pipeline([("features", features), ("model", model)])
        self.classes_ = np.arange(k)
        return self

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """(n, k) class probabilities."""
        return self.pipeline_.predict_proba(np.asarray(texts, dtype=object))

    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """Most probable class id per text."""
        return self.predict_proba(texts).argmax(axis=1)

    def save(self, path: str | Path, metadata: dict[str, Any] | None = None) -> None:
        """Write the fitted model to a skops file, and ``metadata`` (class names, text
        column...) to a JSON file beside it (``<path>.json``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        sio.dump(self.pipeline_, path)
        meta = {"C": self.C, "min_df": self.min_df, "seed": self.seed, **(metadata or {})}
        Path(f"{path}.json").write_text(json.dumps(meta, indent=2))

    @classmethod
    def load(cls, path: str | Path) -> tuple[SoftTextClassifier, dict[str, Any]]:
        """Read a model written by :meth:`save`; returns it and its metadata."""
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"no end model at {str(path)!r}; run the pipeline first to train one")
        untrusted = sio.get_untrusted_types(file=path)
        foreign = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES)]
        if foreign:
            raise ValueError(f"{str(path)!r} holds types weaksup does not load: {foreign}")
        meta_path = Path(f"{path}.json")
        meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
        model = cls(**{k: meta[k] for k in ("C", "min_df", "seed") if k in meta})
        model.pipeline_ = sio.load(path, trusted=untrusted)
        if not isinstance(model.pipeline_, Pipeline):
            raise ValueError(f"{str(path)!r} is not a weaksup end model (it holds a {type(model.pipeline_).__name__})")
        model.classes_ = model.pipeline_.named_steps["model"].classes_
        return model, meta
