"""One set of trained fraud models (Keras v1, PyTorch v2) shared by the slow tests."""

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
from aiaas_finance.simulator import write_sample


@dataclass
class Trained:
    home: Path
    data: Path
    host: Host
    registry: Registry
    keras: TrainResult
    torch: TrainResult

    def client(self) -> TestClient:
        return TestClient(create_app(self.host, self.registry, get_settings()))


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("fraud")
    with isolated_home(root / "home", alias_ttl_seconds="0") as home:
        data = write_sample(root / "transactions.csv", 20_000, seed=3)
        host, registry = get_host(), Registry.from_settings()
        keras = train(host, registry, TrainRequest("finance/fraud", data, epochs=12, promote=True), quiet=True)
        torch = train(host, registry, TrainRequest("finance/fraud", data, runtime="torch", epochs=12), quiet=True)
        yield Trained(home, data, host, registry, keras, torch)


@pytest.fixture
def in_trained_home(trained: Trained, monkeypatch: pytest.MonkeyPatch) -> Iterator[Trained]:
    """Run CLI code against the shared registry."""
    with isolated_home(trained.home, alias_ttl_seconds="0"):
        yield trained
