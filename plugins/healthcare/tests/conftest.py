"""One small chest-xray model (small CNN on 32-px synthetic radiographs) shared by the tests."""

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
from aiaas_healthcare.simulator import write_sample

TASK = "healthcare/chest-xray"


@dataclass
class Trained:
    home: Path
    data: Path
    host: Host
    registry: Registry
    result: TrainResult

    def client(self, **settings: str) -> TestClient:
        return TestClient(create_app(self.host, self.registry, get_settings()))


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("chest")
    with isolated_home(root / "home", alias_ttl_seconds="0") as home:
        data = write_sample(root / "scans", 600, seed=5, size=32)
        host, registry = get_host(), Registry.from_settings()
        result = train(host, registry, TrainRequest(TASK, data / "manifest.csv", architecture="small-cnn", epochs=14, promote=True), quiet=True)
        yield Trained(home, data, host, registry, result)


@pytest.fixture
def in_trained_home(trained: Trained) -> Iterator[Trained]:
    with isolated_home(trained.home, alias_ttl_seconds="0"):
        yield trained
