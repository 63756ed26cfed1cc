"""Registry: versions, promote and rollback, atomic registration."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiaas.errors import UserError
from aiaas.registry import Base, NewVersion, Registry


def _new(task: str = "finance/fraud") -> NewVersion:
    return NewVersion(task, "torch", "torch-mlp", {"roc_auc": 0.9}, "sha256:abc", {"plugin": "finance"})


def _write(folder: Path) -> None:
    (folder / "manifest.json").write_text("{}")


POSTGRES = os.environ.get("AIAAS_TEST_POSTGRES_URL")  # e.g. postgresql+psycopg://user:pw@127.0.0.1/aiaas_test


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.skipif(not POSTGRES, reason="set AIAAS_TEST_POSTGRES_URL"))])
def registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Registry]:
    if request.param == "sqlite":
        yield Registry(f"sqlite:///{tmp_path / 'r.db'}", tmp_path / "artifacts")
        return
    registry = Registry(POSTGRES, tmp_path / "artifacts")  # type: ignore[arg-type]
    Base.metadata.drop_all(registry.engine)
    Base.metadata.create_all(registry.engine)
    yield registry
    Base.metadata.drop_all(registry.engine)


def test_versions_count_up_per_task(registry: Registry) -> None:
    assert [registry.register(_new(), _write).version for _ in range(3)] == [1, 2, 3]
    assert registry.register(_new("retail/reviews"), _write).version == 1
    row = registry.get("finance/fraud", 2)
    assert (registry.folder(row) / "manifest.json").exists()
    assert row.metrics == {"roc_auc": 0.9} and row.data_fingerprint == "sha256:abc"


def test_promote_and_rollback_walk_the_history(registry: Registry) -> None:
    for _ in range(3):
        registry.register(_new(), _write)
    assert registry.alias("finance/fraud") is None
    registry.promote("finance/fraud", 1)
    registry.promote("finance/fraud", 3)
    registry.promote("finance/fraud", 2)
    assert registry.alias("finance/fraud") == 2
    assert registry.rollback("finance/fraud").version == 3
    assert registry.rollback("finance/fraud").version == 1
    with pytest.raises(UserError, match="no earlier production version"):
        registry.rollback("finance/fraud")
    with pytest.raises(UserError, match="has no version 9"):
        registry.promote("finance/fraud", 9)


def test_a_crash_while_writing_leaves_the_previous_state(registry: Registry, tmp_path: Path) -> None:
    registry.register(_new(), _write)
    registry.promote("finance/fraud", 1)

    def crash(folder: Path) -> None:
        (folder / "model.safetensors").write_bytes(b"half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        registry.register(_new(), crash)
    assert [r.version for r in registry.versions("finance/fraud")] == [1]
    assert registry.alias("finance/fraud") == 1
    leftovers = [p.name for p in (tmp_path / "artifacts" / "finance__fraud").iterdir()]
    assert leftovers == [registry.get("finance/fraud", 1).artifact_dir.split("/")[-1]]
    assert registry.register(_new(), _write).version == 2


def test_a_failed_row_insert_removes_the_written_folder(registry: Registry, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*_args: object) -> None:
        raise RuntimeError("database went away")

    monkeypatch.setattr(registry, "_insert", fail)
    with pytest.raises(RuntimeError):
        registry.register(_new(), _write)
    assert list((tmp_path / "artifacts" / "finance__fraud").iterdir()) == []


def test_undefined_metrics_are_stored_as_null(registry: Registry) -> None:
    new = NewVersion("finance/fraud", "torch", "torch-mlp", {"roc_auc": float("nan"), "recall": 0.5}, "sha256:abc", {"plugin": "finance"})
    registry.register(new, _write)
    assert registry.get("finance/fraud", 1).metrics == {"roc_auc": None, "recall": 0.5}
