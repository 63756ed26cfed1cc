"""The plugin author's test kit, a pytest plugin.

Installed with aiaas (entry point ``pytest11``), so a plugin's tests get, with no conftest:

- ``aiaas_home``: a fresh registry and artifact store for one test (``AIAAS_HOME`` in a temporary folder);
- ``aiaas_host``: ``aiaas_host(insurance=module)``, a host with the core's defaults and the given plugin
  modules, no autoloading: a plugin that is not installed yet, or one module of it;
- ``aiaas_train``: ``aiaas_train(TrainRequest(...), host=...)``, one model trained into ``aiaas_home``;
- ``aiaas_client``: ``aiaas_client(host)``, an HTTP client of the service over ``aiaas_home``'s registry, its promoted versions warm;
- the ``slow`` marker (``pytest -m "not slow"`` skips what trains a real model);
- ``PluginContract``: ``class TestMyPlugin(PluginContract): plugin = "my-plugin"`` runs the checks every
  plugin must pass (see ``aiaas.testing.contract``).

For models shared by a whole session, ``trained_models`` trains once into a home of its own.
Without the entry point (pytest run with ``-p no:aiaas``), ``pytest_plugins = ["aiaas.testing"]`` loads it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

pytest.register_assert_rewrite("aiaas.testing.contract")

from aiaas.testing.contract import PluginContract  # noqa: E402
from aiaas.testing.helpers import (  # noqa: E402
    TrainedModels, host_with, isolated_home, ready_client, running_server, trained_models, wait_for_version)

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from aiaas.plugins import Host
    from aiaas.training import TrainRequest, TrainResult

__all__ = ["PluginContract", "TrainedModels", "host_with", "isolated_home", "ready_client", "running_server", "trained_models", "wait_for_version"]


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: trains a real model (seconds on a CPU); deselect with -m 'not slow'")


@pytest.fixture
def aiaas_home(tmp_path: Path) -> Iterator[Path]:
    """A fresh registry and artifact store for one test."""
    with isolated_home(tmp_path / "home", alias_ttl_seconds="0") as home:
        yield home


@pytest.fixture
def aiaas_host(aiaas_home: Path) -> Callable[..., Host]:
    """``aiaas_host(name=module, ..., entry_points=False)``: the core's defaults plus these plugins.
    Fails the test, with the reason, when one of them is set aside."""

    def make(entry_points: bool = False, **plugins: Any) -> Host:
        return host_with(entry_points=entry_points, **plugins)

    return make


@pytest.fixture
def aiaas_train(aiaas_home: Path) -> Callable[..., TrainResult]:
    """``aiaas_train(TrainRequest(task, data, ...), host=None)``: train and register into ``aiaas_home``
    (with the installed plugins unless ``host`` is given)."""

    def run(request: TrainRequest, host: Host | None = None) -> TrainResult:
        from aiaas.plugins import get_host
        from aiaas.registry import Registry
        from aiaas.training import train

        return train(host or get_host(), Registry.from_settings(), request, quiet=True)

    return run


@pytest.fixture
def aiaas_client(aiaas_home: Path) -> Callable[..., TestClient]:
    """``aiaas_client(host=None)``: an HTTP client of the service over ``aiaas_home``'s registry."""

    def make(host: Host | None = None) -> TestClient:
        from aiaas.plugins import get_host
        from aiaas.registry import Registry

        return ready_client(host or get_host(), Registry.from_settings())

    return make
