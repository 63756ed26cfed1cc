"""One sentiment and one rating LSTM, trained on sample reviews and shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiaas.testing import TrainedModels, trained_models
from aiaas import TrainRequest
from aiaas_retail.simulator import write_sample

SENTIMENT, RATING = "retail/review-sentiment", "retail/review-rating"
Trained = TrainedModels


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("reviews")
    data = write_sample(root / "sample", 2000, seed=3)
    with trained_models(root / "home", data, {
        "sentiment": TrainRequest(SENTIMENT, data, architecture="lstm", epochs=8, promote=True, force=True, options={"max_length": 40}),
        "rating": TrainRequest(RATING, data, architecture="lstm", epochs=8, promote=True, force=True),
    }) as models:
        yield models
