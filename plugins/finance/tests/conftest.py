"""One set of trained fraud models (Keras v1, PyTorch v2) shared by the slow tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiaas.testing import TrainedModels, trained_models
from aiaas import TrainRequest
from aiaas_finance.simulator import write_sample

Trained = TrainedModels


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    root = tmp_path_factory.mktemp("fraud")
    data = write_sample(root / "transactions.csv", 20_000, seed=3)
    with trained_models(root / "home", data, {
        "keras": TrainRequest("finance/fraud", data, runtime="tensorflow", architecture="mlp", epochs=12, promote=True, force=True),
        "torch": TrainRequest("finance/fraud", data, runtime="torch", architecture="mlp", epochs=12),
    }) as models:
        yield models
