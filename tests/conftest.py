"""Fixtures of the core's tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from aiaas.registry import Registry
from aiaas.testing import host_with
from aiaas.training import TrainRequest, train

from .test_third_party_plugin import insurance_plugin, write_claims


@pytest.fixture
def claims_model(aiaas_home: Path, tmp_path: Path):  # noqa: ANN201
    """(host, registry, version folder) of a small insurance/claims model, promoted: a few seconds to train."""
    host = host_with("insurance", insurance_plugin())
    registry = Registry.from_settings()
    result = train(host, registry, TrainRequest("insurance/claims", write_claims(tmp_path, 400, 0), epochs=2), quiet=True)
    registry.promote("insurance/claims", result.version.version, force=True)  # two epochs lose to the floor: these tests are not about quality
    return host, registry, registry.folder(result.version)
