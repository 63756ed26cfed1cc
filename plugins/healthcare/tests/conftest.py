"""One small chest-xray model (small CNN on 32-px synthetic radiographs) shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiaas.testing import TrainedModels, trained_models
from aiaas import TrainRequest
from aiaas_healthcare.simulator import write_sample

TASK = "healthcare/chest-xray"
Trained = TrainedModels


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("chest")
    data = write_sample(root / "scans", 600, seed=5, size=32)
    request = TrainRequest(TASK, data / "manifest.csv", architecture="small-cnn", epochs=14, promote=True, force=True)
    with trained_models(root / "home", data, {"cnn": request}) as models:
        yield models
