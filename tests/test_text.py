"""The core's text pieces: cleaning, the vocabulary preprocessor, word pieces, ordinal metrics."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from aiaas import InvalidInput
from aiaas.explainers.tokens import merge_pieces
from aiaas.metrics import compute, score_for_selection
from aiaas.text import clean, documents, words
from aiaas.text.vocabulary import VocabularyPreprocessor


def test_clean_and_words() -> None:
    assert clean("Great &amp; cheap<br />  really &#39;good&#39;") == "Great & cheap really 'good'"
    assert words("Don't buy it!! 10/10?") == ["don't", "buy", "it", "!", "!", "10", "10", "?"]
    frame = pd.DataFrame({"text": ["body"], "title": ["Head"]})
    assert documents(frame) == ["Head. body"] and documents(frame.assign(title="")) == ["body"]


def test_vocabulary_is_fitted_on_training_text_and_truncates() -> None:
    pre = VocabularyPreprocessor()
    train = pd.DataFrame({"text": ["good good product", "bad bad product", "rare"]})
    state = pre.fit(train, None, options={"max_length": 4})
    assert state.meta["vocabulary"][:2] == ["<pad>", "<unk>"] and "rare" not in state.meta["vocabulary"]  # min_count 2
    assert pre.model_hints(state) == {"vocabulary_size": 5}
    ids = pre.transform(pd.DataFrame({"text": ["good unknown", "bad bad bad bad bad bad"]}), state)["tokens"]
    index = {w: i for i, w in enumerate(state.meta["vocabulary"])}
    assert ids.shape == (2, 4) and list(ids[0]) == [index["good"], 1, 0, 0]
    assert list(pre.token_counts(pd.DataFrame({"text": ["a b c d e f"]}), state)) == [6] and pre.max_length(state) == 4
    assert "_index" not in state.meta  # the lookup table is not saved with the model
    with pytest.raises(InvalidInput, match="max_length must be at least 4"):
        pre.fit(train, None, options={"max_length": 1})


def test_word_pieces_join_and_special_tokens_drop() -> None:
    merged = merge_pieces([None, "un", "##believ", "##able", "film", None], np.array([9.0, 0.1, 0.2, 0.3, -0.5, 9.0]))
    assert [w for w, _ in merged] == ["unbelievable", "film"] and merged[0][1] == pytest.approx(0.6)


def test_ordinal_metrics_for_ratings() -> None:
    y = np.array([0, 1, 2, 3, 4])
    exact = np.eye(5)[y]
    off = np.eye(5)[[1, 1, 3, 3, 2]]
    assert compute(["mean_absolute_error", "off_by_one_accuracy", "quadratic_weighted_kappa"], y, exact) == {
        "mean_absolute_error": 0.0, "off_by_one_accuracy": 1.0, "quadratic_weighted_kappa": 1.0}
    scores = compute(["mean_absolute_error", "off_by_one_accuracy"], y, off)
    assert scores == {"mean_absolute_error": 0.8, "off_by_one_accuracy": 0.8}
    assert score_for_selection("mean_absolute_error", y, off) == -0.8  # lower is better, turned for early stopping
