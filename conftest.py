"""Fixtures shared by the core's tests and every plugin's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from aiaas.testing import TrainedModels, isolated_home


@pytest.fixture
def aiaas_home(tmp_path: Path) -> Iterator[Path]:
    """A fresh registry and artifact store for one test."""
    with isolated_home(tmp_path / "home", alias_ttl_seconds="0") as home:
        yield home


@pytest.fixture
def in_trained_home(trained: TrainedModels) -> Iterator[TrainedModels]:
    """Run CLI code against the registry of the plugin's session models (its own ``trained`` fixture)."""
    with trained.inside():
        yield trained
