"""TF-IDF over words, word pairs and character n-grams, with class-balanced logistic
regression. The vocabularies are saved as JSON and the IDF and weights as safetensors;
a prediction's word weights are exact (each feature's value times its weight, shared
among the words that make it)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import numpy as np

from aiaas.classical.base import Estimator, Selection
from aiaas.classical.linear import fit_linear, linear_logits, strengths_of
from aiaas.runtimes.base import Arrays, FitConfig, ModelSpec
from aiaas.text import words

DEFAULTS = {"word_ngrams": 2, "char_ngrams": [2, 5], "min_df": 2, "max_word_features": 50_000, "max_char_features": 100_000}


def _analyzers(params: dict[str, Any], vocabularies: dict[str, dict[str, int]] | None = None) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    low, high = params["char_ngrams"]
    fixed = vocabularies or {}
    common = {"sublinear_tf": True, "dtype": np.float32}
    return {
        "word": TfidfVectorizer(tokenizer=words, lowercase=False, token_pattern=None, ngram_range=(1, int(params["word_ngrams"])),
                                min_df=1 if fixed else int(params["min_df"]), max_features=None if fixed else int(params["max_word_features"]),
                                vocabulary=fixed.get("word"), **common),
        "char": TfidfVectorizer(analyzer="char_wb", ngram_range=(int(low), int(high)), min_df=1 if fixed else int(params["min_df"]),
                                max_features=None if fixed else int(params["max_char_features"]), vocabulary=fixed.get("char"), **common),
    }


class TfidfLinear(Estimator):
    def __init__(self, spec: ModelSpec, params: dict[str, Any]) -> None:
        super().__init__(spec, {**DEFAULTS, **params})
        self.vectorizers: dict[str, Any] = {}

    def _matrix(self, texts: np.ndarray) -> Any:
        from scipy.sparse import hstack

        return hstack([self.vectorizers[k].transform(list(texts)) for k in ("word", "char")]).tocsr()

    def fit(self, train: tuple[Arrays, np.ndarray, np.ndarray], validation: tuple[Arrays, np.ndarray],
            config: FitConfig, selection: Selection) -> list[dict[str, float]]:
        self.vectorizers = _analyzers(self.params)
        texts = list(train[0]["text"])
        for vectorizer in self.vectorizers.values():
            vectorizer.fit(texts)
        weights, history = fit_linear(self._matrix(train[0]["text"]), train[1], train[2], self._matrix(validation[0]["text"]),
                                      self.spec.kind, self.spec.outputs, selection, strengths_of(self.params))
        self.arrays = {**weights, **{f"idf_{k}": v.idf_.astype("float32") for k, v in self.vectorizers.items()}}
        self.meta = {"vocabularies": {k: {t: int(i) for t, i in v.vocabulary_.items()} for k, v in self.vectorizers.items()}}
        return history

    def load(self, directory: Any) -> None:
        super().load(directory)
        self.vectorizers = _analyzers(self.params, self.meta["vocabularies"])
        for k, v in self.vectorizers.items():
            v.idf_ = self.arrays[f"idf_{k}"]

    def logits(self, inputs: Arrays) -> np.ndarray:
        return linear_logits(self._matrix(inputs["text"]), self.arrays)

    def word_weights(self, texts: np.ndarray, targets: np.ndarray, signs: np.ndarray) -> list[list[tuple[str, float]]]:
        """Each word of each text with its share of the target logit (signed by ``signs``)."""
        x = self._matrix(texts)
        names = self._feature_names()
        coef = self.arrays["coef"]
        out = []
        for i, text in enumerate(texts):
            tokens = words(str(text))
            where: dict[str, list[int]] = defaultdict(list)  # a feature -> the word positions that make it
            for p, token in enumerate(tokens):
                where[f"w {token}"].append(p)
                padded = f" {token} "
                for n in range(2, 6):
                    for s in range(len(padded) - n + 1):
                        where[f"c {padded[s:s + n]}"].append(p)
            for p in range(len(tokens) - 1):
                where[f"w {tokens[p]} {tokens[p + 1]}"] += [p, p + 1]
            weight = np.zeros(len(tokens))
            row = x.getrow(i)
            for f, value in zip(row.indices, row.data):
                positions = where.get(names[f])
                if positions:
                    np.add.at(weight, positions, value * coef[targets[i] if len(coef) > 1 else 0, f] * signs[i] / len(positions))
            out.append([(t, float(w)) for t, w in zip(tokens, weight)])
        return out

    def _feature_names(self) -> list[str]:
        if not hasattr(self, "_names"):
            names: list[str] = []
            for kind in ("word", "char"):
                vocabulary = self.meta["vocabularies"][kind]
                block = [""] * len(vocabulary)
                for term, index in vocabulary.items():
                    block[index] = f"{kind[0]} {term}"
                names += block
            self._names = names
        return self._names


def build(spec: ModelSpec, params: dict[str, Any]) -> TfidfLinear:
    return TfidfLinear(spec, params)
