"""Fixtures of this repository's tests beyond the kit's (``aiaas.testing``, a pytest plugin)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiaas.testing import TrainedModels

# Every training in this suite fits tiny models on a few hundred rows, which aiaas would cross-validate as small data
# (five folds and a refit: six fits each). The suite tests the split path at that size; tests/test_small_data.py turns
# cross-validation on where it is what is tested. The environment carries it to the CLI subprocesses too.
os.environ.setdefault("AIAAS_SMALL_DATA_ROWS", "0")
os.environ.setdefault("AIAAS_SMALL_DATA_RAREST", "0")


@pytest.fixture
def in_trained_home(trained: TrainedModels) -> Iterator[TrainedModels]:
    """Run CLI code against the registry of the plugin's session models (its own ``trained`` fixture)."""
    with trained.inside():
        yield trained


POSTGRES = os.environ.get("AIAAS_TEST_POSTGRES_URL")  # set by .ci/run; e.g. postgresql+psycopg://user:pw@127.0.0.1/aiaas_test


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(not POSTGRES, reason="set AIAAS_TEST_POSTGRES_URL"))])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database for the registry's tables: SQLite in a temporary folder, and PostgreSQL
    where one is given (its tables are dropped before and after)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'service.db'}"
        return
    from sqlalchemy import create_engine

    from aiaas import audit, keys  # noqa: F401  (their tables are on the registry's metadata)
    from aiaas.monitoring import predictions  # noqa: F401
    from aiaas.registry import Base

    engine = create_engine(POSTGRES)  # type: ignore[arg-type]
    Base.metadata.drop_all(engine)
    yield POSTGRES  # type: ignore[misc]
    Base.metadata.drop_all(engine)
    engine.dispose()
