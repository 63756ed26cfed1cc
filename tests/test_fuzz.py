"""schemathesis against the app in-process, over every operation of its OpenAPI page:
no request the schema allows (or nearly allows) gets a server error, and every
answer fits its documented schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

from aiaas.registry import Registry
from aiaas.serving.app import create_app
from aiaas.settings import get_settings
from aiaas.testing import host_with, isolated_home
from aiaas.training import TrainRequest, train

from .test_third_party_plugin import insurance_plugin, write_claims

EXAMPLES = 30


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    root = Path(tmp_path_factory.mktemp("fuzz"))
    with isolated_home(root / "home", alias_ttl_seconds="0"):
        host = host_with("insurance", insurance_plugin())
        registry = Registry.from_settings()
        train(host, registry, TrainRequest("insurance/claims", write_claims(root, 400, 0), epochs=2, promote=True), quiet=True)
        yield schemathesis.openapi.from_asgi("/openapi.json", create_app(host, registry, get_settings()))


def test_no_server_error_and_answers_fit_their_schema(api: schemathesis.schemas.BaseSchema) -> None:
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    tried = []
    for result in api.get_all_operations():
        operation = result.ok()
        tried.append(operation.label)

        @given(operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(checks=checks)

        run()
    assert any("/predict" in label for label in tried) and any("/admin" in label for label in tried) and any("/v2/models" in label for label in tried)


def test_values_that_overflow_the_model_get_a_422(api: schemathesis.schemas.BaseSchema) -> None:
    """Regression (found by this fuzzer): 1.86e39 in a float field made the answer NaN, a 500."""
    from fastapi.testclient import TestClient

    client = TestClient(api.app)
    for value in (1.8645145393514888e39, 1e300, -1e300):
        response = client.post("/v1/insurance/claims/predict", json={"instances": [{"amount": 0.0, "policy_age_years": value, "region": ""}]})
        assert response.status_code == 422, (value, response.text)
