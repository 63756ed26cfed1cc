"""Helpers of the kit: load a plugin into a host of its own, in a throw-away home, and
train models once for a whole test session.

    from aiaas.testing import host_with, isolated_home, trained_models

    def test_my_plugin_registers(tmp_path):
        with isolated_home(tmp_path):
            host = host_with("insurance", my_plugin_module)
            assert "insurance/claims" in host.components.tasks

    @pytest.fixture(scope="session")
    def trained(tmp_path_factory):
        root = tmp_path_factory.mktemp("claims")
        data = write_claims(root, 2000, seed=0)
        with trained_models(root / "home", data, {"mlp": TrainRequest("insurance/claims", data, promote=True, force=True)}) as models:
            yield models          # models["mlp"].metrics, models.client().post(...)
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiaas.plugins import Host, get_host, reset_host
from aiaas.settings import get_settings

if TYPE_CHECKING:
    from fastapi.testclient import TestClient

    from aiaas.registry import Registry
    from aiaas.training import TrainRequest, TrainResult


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


def host_with(name: str | None = None, module: Any = None, entry_points: bool = False, **plugins: Any) -> Host:
    """A host with the core's defaults and ``module`` registered as plugin ``name`` (or several:
    ``host_with(insurance=module, lending=other)``). Raises AssertionError with the reason when
    one of them is set aside."""
    host = Host(entry_points=entry_points)
    for plugin, obj in [*(((name, module),) if name else ()), *plugins.items()]:
        host.register_plugin(plugin, obj)
        info = host.plugins[plugin]
        if info.status != "ok":
            raise AssertionError(f"plugin {plugin} failed: {info.reason}")
    return host


@dataclass
class TrainedModels:
    """Models trained once into ``home``, by the name their request was given."""

    home: Path
    data: Path
    host: Host
    registry: Registry
    results: dict[str, TrainResult]

    def __getitem__(self, name: str) -> TrainResult:
        return self.results[name]

    def client(self) -> TestClient:
        """An HTTP client of an app serving this home's registry, its promoted versions loaded and warm."""
        return ready_client(self.host, self.registry)

    def fuzz(self, max_examples: int = 15) -> list[str]:
        """Run schemathesis with every one of its checks over every documented operation of the service as
        installed (JSON bodies and multipart uploads alike) with these models serving: no server error, every
        status and header documented, answers that fit their schema, invalid data refused and valid data taken.
        Returns the operations tried. Needs ``schemathesis``."""
        with self.inside():
            return fuzz_app(ready_client(self.host, self.registry).app, max_examples)

    @contextmanager
    def inside(self) -> Iterator[TrainedModels]:
        """Make this home the current one again (CLI code reads it from the environment)."""
        with isolated_home(self.home, alias_ttl_seconds="0"):
            yield self


def fuzz_checks(app: Any) -> list[Any]:
    """Every schemathesis check, for ``app``'s tasks."""
    from schemathesis.checks import CHECKS, load_all_checks, not_a_server_error
    from schemathesis.specs.openapi.checks import positive_data_acceptance

    load_all_checks()
    uploads = {task.name: task.upload_field for task in app.state.host.components.tasks.values() if task.upload_field}

    def positive_data_acceptance_but_file_content(ctx: Any, response: Any, case: Any) -> bool | None:
        """Schema-valid data is taken, except a file whose bytes are not one the task reads (no schema can say
        "a decodable image"): that is refused with 413, 415 or 422 naming the file, and that is what is checked."""
        parts = case.operation.path.strip("/").split("/")
        field = uploads.get("/".join(parts[1:3])) if parts[0] == "v1" else None
        if field and response.status_code in (413, 415, 422):
            loc = (response.json().get("detail") or [{}])[0].get("loc", [])
            if loc[-1:] == [field]:
                return None
        return positive_data_acceptance(ctx, response, case)

    def not_a_server_error_but_a_documented_503(ctx: Any, response: Any, case: Any) -> bool | None:
        """503 is a documented answer of a task's routes (no model promoted, a version loading, the task at capacity)."""
        if response.status_code == 503 and "503" in case.operation.definition.raw.get("responses", {}):
            return None
        return not_a_server_error(ctx, response, case)

    replace = {positive_data_acceptance: positive_data_acceptance_but_file_content, not_a_server_error: not_a_server_error_but_a_documented_503}
    return [replace.get(check, check) for check in CHECKS.get_all()]


def fuzz_app(app: Any, max_examples: int = 15) -> list[str]:
    """schemathesis, with all its checks, over every operation of ``app``'s OpenAPI page; returns the operations tried."""
    import schemathesis
    from hypothesis import HealthCheck, given, settings

    checks = fuzz_checks(app)
    tried = []
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    for result in schema.get_all_operations():
        operation = result.ok()
        tried.append(operation.label)

        @given(operation.as_strategy())
        # derandomized: the same cases every run, so a red build means a change, not a new draw
        @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck), database=None, derandomize=True)
        def run(case: Any) -> None:
            case.call_and_validate(checks=checks)

        run()
    return tried


def ready_client(host: Host, registry: Registry, settings: Any = None) -> TestClient:
    """An HTTP client of the service, returned once every promoted version has loaded and warmed,
    as ``aiaas serve`` is before ``/readyz`` says ready."""
    from fastapi.testclient import TestClient

    from aiaas.serving.app import create_app

    app = create_app(host, registry, settings or get_settings())
    app.state.served.warm_all()
    return TestClient(app)


def wait_for_version(client: TestClient, task: str, version: int, timeout: float = 60.0) -> None:
    """Wait until ``task`` answers from ``version``: a promote or rollback moves traffic once the
    version has loaded and warmed in the background."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        body = client.get(f"/readyz/{task}").json()
        if body.get("version") == version and body.get("status") == "serving":
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{task} did not move to version {version} within {timeout:g} s: {body}")
        time.sleep(0.05)


@contextmanager
def running_server(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn (as ``aiaas serve`` does) on a free loopback port in a thread; yields
    its base URL. For tests that need real connections: concurrency, timing, closed sockets."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", access_log=False,
                                           http="aiaas.serving.fastshed:SheddingProtocol"))
    thread = threading.Thread(target=server.run, name="aiaas test server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise AssertionError("the test server did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextmanager
def trained_models(home: Path, data: Path, requests: dict[str, TrainRequest], host: Host | None = None) -> Iterator[TrainedModels]:
    """Train each request, in order, in a home of its own (promote/rollback seen at once), with
    the installed plugins or ``host`` (a plugin not installed yet: ``host_with``)."""
    from aiaas.registry import Registry
    from aiaas.training import train

    with isolated_home(home, alias_ttl_seconds="0"):
        host, registry = host or get_host(), Registry.from_settings()
        results = {name: train(host, registry, request, quiet=True) for name, request in requests.items()}
        yield TrainedModels(home, data, host, registry, results)


_MEASURED = """
import resource, sys
from aiaas.cli import main
try:
    sys.argv = ["aiaas", *sys.argv[1:]]
    main()
finally:
    print("PEAK", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024, file=sys.stderr)
"""


def aiaas_measured(home: Path, *args: str, timeout: float = 3600) -> tuple[Any, int]:
    """Run the ``aiaas`` command in a child process with ``AIAAS_HOME=home``; the finished process and the
    peak resident memory it reached, in bytes (0 when it died before reporting it)."""
    import subprocess
    import sys

    run = subprocess.run([sys.executable, "-c", _MEASURED, *args], capture_output=True, text=True,
                         env={**os.environ, "AIAAS_HOME": str(home)}, timeout=timeout)
    peak = run.stderr.rsplit("PEAK", 1)
    return run, int(peak[1].split()[0]) if len(peak) == 2 else 0


@contextmanager
def ray_cluster(nodes: int = 2, cpus: int = 2) -> Iterator[str]:
    """A Ray cluster of ``nodes`` nodes on this machine (``ray start --head``, then ``ray start --address``
    for each other), ``cpus`` logical CPUs each, with Ray's token authentication on; yields its address.
    The environment points every process started in the block at the token. At the end only this
    cluster's processes are stopped (those of its own temporary folder), not every Ray on the machine."""
    import secrets
    import signal
    import socket
    import subprocess
    import sys
    import tempfile
    import time

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    ray = str(Path(sys.executable).parent / "ray")
    with tempfile.TemporaryDirectory(prefix="aiaas-ray-") as folder:
        token, temp = Path(folder) / "auth_token", Path(folder) / "ray"
        token.write_text(secrets.token_hex(32))
        token.chmod(0o600)
        env = {"RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN_PATH": str(token)}
        saved = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        quiet: dict[str, Any] = {"capture_output": True, "text": True, "timeout": 120}
        try:
            for node in range(nodes):
                where = ["--head", f"--port={port}", "--include-dashboard=false", "--disable-usage-stats"] if node == 0 else [f"--address=127.0.0.1:{port}"]
                started = subprocess.run([ray, "start", *where, f"--num-cpus={cpus}", f"--temp-dir={temp}"], **quiet)
                if started.returncode:
                    raise RuntimeError(f"ray start failed: {started.stderr[-2000:]}")
            yield f"127.0.0.1:{port}"
        finally:
            for sig, wait in ((signal.SIGTERM, 2.0), (signal.SIGKILL, 2.0)):
                ours = processes_named(str(temp))
                for pid in ours:
                    with contextlib.suppress(OSError):
                        os.kill(pid, sig)
                deadline = time.monotonic() + wait
                while ours and time.monotonic() < deadline:
                    time.sleep(0.2)
                    ours = processes_named(str(temp))
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def processes_named(marker: str) -> list[int]:
    """The processes whose command line names ``marker`` (a Ray node's temporary folder, a Ray worker's title)."""
    found = []
    for entry in Path("/proc").iterdir():
        with contextlib.suppress(OSError):
            if entry.name.isdigit() and int(entry.name) != os.getpid() and marker.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
    return found
