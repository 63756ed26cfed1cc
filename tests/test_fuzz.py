"""schemathesis against the app in-process, with every one of its checks, over every operation
of its OpenAPI page: the page says what the server does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis

from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with, isolated_home
from aiaas.testing.helpers import fuzz_app
from aiaas.training import TrainRequest, train

from .test_third_party_plugin import insurance_plugin, write_claims

EXAMPLES = 30


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    root = Path(tmp_path_factory.mktemp("fuzz"))
    with isolated_home(root / "home", alias_ttl_seconds="0"):
        host = host_with("insurance", insurance_plugin())
        registry = Registry.from_settings()
        train(host, registry, TrainRequest("insurance/claims", write_claims(root, 400, 0), epochs=2, promote=True, force=True), quiet=True)
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(host, registry, get_settings()))


def test_every_check_passes_on_every_operation(api: schemathesis.schemas.BaseSchema) -> None:
    """schemathesis with all its checks: no server error, every status and header documented, answers that fit
    their schema, schema-invalid requests refused and schema-valid ones taken (no coercion, every limit stated)."""
    tried = fuzz_app(api.app, EXAMPLES)
    assert any("/predict" in label for label in tried) and any("/admin" in label for label in tried) and any("/v2/models" in label for label in tried)


def test_values_far_past_training_are_answered_with_the_flag_never_nan(api: schemathesis.schemas.BaseSchema) -> None:
    """Regression (found by this fuzzer): 1.86e39 in a float field made the answer NaN, a 500. Such a value is
    read at the edge of what the model knows; the answer says it is far outside the training range."""
    from fastapi.testclient import TestClient

    client = TestClient(api.app)
    for value in (1.8645145393514888e39, 1e300, -1e300, 1.7976931348623157e308):
        response = client.post("/v1/insurance/claims/predict", json={"instances": [{"amount": 0.0, "policy_age_years": value, "region": ""}]})
        assert response.status_code == 200, (value, response.text)
        answer = response.json()["predictions"][0]
        assert answer["input_check"]["in_distribution"] is False and "policy_age_years" in " ".join(answer["input_check"]["reasons"])
