"""A kit for checking a plugin: load it into a host of its own, in a throw-away home.

    from aiaas.testing import host_with, isolated_home

    def test_my_plugin_registers(tmp_path):
        with isolated_home(tmp_path):
            host = host_with("insurance", my_plugin_module)
            assert "insurance/claims" in host.components.tasks
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from aiaas.plugins import Host, reset_host
from aiaas.settings import get_settings


@contextmanager
def isolated_home(path: Path, **settings: str) -> Iterator[Path]:
    """Point AIAAS_HOME (and any other AIAAS_* settings given) at a folder for the block."""
    values = {"AIAAS_HOME": str(path), **{f"AIAAS_{k.upper()}": v for k, v in settings.items()}}
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    get_settings.cache_clear()
    reset_host()
    try:
        yield path
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
        reset_host()


def host_with(name: str, module: Any, entry_points: bool = False) -> Host:
    """A host with the core's defaults and ``module`` registered as plugin ``name``.
    Raises AssertionError with the reason when the plugin is set aside."""
    host = Host(entry_points=entry_points)
    host.register_plugin(name, module)
    info = host.plugins[name]
    if info.status != "ok":
        raise AssertionError(f"plugin {name} failed: {info.reason}")
    return host
