"""One sentiment and one rating LSTM, trained on sample reviews and shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from aiaas.plugins import Host, get_host
from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import isolated_home
from aiaas.training import TrainRequest, TrainResult, train
from aiaas_retail.simulator import write_sample

SENTIMENT, RATING = "retail/review-sentiment", "retail/review-rating"


@dataclass
class Trained:
    home: Path
    data: Path
    host: Host
    registry: Registry
    sentiment: TrainResult
    rating: TrainResult

    def client(self) -> TestClient:
        return TestClient(create_app(self.host, self.registry, get_settings()))


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("reviews")
    with isolated_home(root / "home", alias_ttl_seconds="0") as home:
        data = write_sample(root / "sample", 2000, seed=3)
        host, registry = get_host(), Registry.from_settings()
        sentiment = train(host, registry, TrainRequest(SENTIMENT, data, epochs=8, promote=True, options={"max_length": 40}), quiet=True)
        rating = train(host, registry, TrainRequest(RATING, data, epochs=8, promote=True), quiet=True)
        yield Trained(home, data, host, registry, sentiment, rating)


@pytest.fixture
def in_trained_home(trained: Trained) -> Iterator[Trained]:
    with isolated_home(trained.home, alias_ttl_seconds="0"):
        yield trained
