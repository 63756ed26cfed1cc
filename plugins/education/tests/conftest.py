"""A DKT model (Keras, the default) trained once on sample learners and shared by the tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from aiaas.testing import TrainedModels, trained_models
from aiaas import TrainRequest
from aiaas_education.simulator import write_sample

TASK = "education/knowledge-tracing"
WINDOW = 50


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedModels]:
    root = tmp_path_factory.mktemp("learners")
    data = write_sample(root / "sample", 16_000, seed=5)
    with trained_models(root / "home", data, {
        "dkt": TrainRequest(TASK, data, epochs=10, promote=True, force=True, options={"window": WINDOW}),
    }) as models:
        yield models
