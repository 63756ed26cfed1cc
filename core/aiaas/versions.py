"""Which version of a task serves, and loading versions off the request path.

Versions change the way Triton and KServe roll them. When the production alias (or a
canary or shadow) names a version that is not loaded, a loader thread loads it, checks
its files and warms it (its warm-up batch through the whole answer path, ``warmup.py``)
while the version already serving keeps answering; traffic moves in one step, a
reference swap, once the new one is ready. A version that fails to load never takes
traffic: the one before keeps serving, the failure is logged, counted, recorded in the
registry (so ``aiaas models``, the admin API and ``/readyz/{industry}/{task}`` show it)
and the load is tried again after ``retry`` seconds.

A request never loads a model itself, and a server follows the registry in the background
(``start``), so a new version is usually warm before a request asks. Only a task with
nothing loaded yet (a server that has just started) makes a request wait, for the load
already running and at most until the request's deadline; ``aiaas serve`` loads and warms
every promoted version before ``/readyz`` says ready (``warm_all``).

Loaded versions are re-verified against their recorded digests every
``integrity_seconds``: a file changed on disk is reported (``problems``), and the
version is dropped from the warm set unless it is serving, so no worker loads it again.
"""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from aiaas.errors import ModelUnavailable, NoModel, UserError
from aiaas.integrity import ArtifactDamaged, verify
from aiaas.pipeline import Pipeline
from aiaas.plugins import Host
from aiaas.registry import Registry

log = logging.getLogger("aiaas.serving")


def load_version(host: Host, registry: Registry, task: str, version: int | None = None, warm: bool = False) -> Pipeline:
    """The given version, else the production one; ``warm``: run its warm-up batch before returning."""
    from aiaas import warmup

    host.task(task)
    if version is None:
        version = registry.alias(task)
        if version is None:
            raise NoModel(
                f"{task} has no promoted model; train one with `aiaas train {task} --data FILE --promote` "
                f"or promote a version with `aiaas promote {task} VERSION`"
            )
    row = registry.get(task, version)
    folder = registry.folder(row)
    verify(folder, row.provenance.get("manifest_sha256"), f"{task} version {version}")
    try:
        pipeline = Pipeline.load(host, folder, version)
    except FileNotFoundError as exc:
        raise UserError(f"{task} version {version}: its files are missing from the artifact store ({exc.filename})") from exc
    if warm:
        warmup.warm(pipeline, folder)
    return pipeline


class Loading(ModelUnavailable):
    """The task's version is still loading (a server that has just started); answered as 503 with Retry-After."""


@dataclass(frozen=True)
class Arm:
    """A version served beside production while a rollout is in progress."""

    kind: str
    """``canary``: answers ``percent`` of clients; ``shadow``: sees a copy of every request, answers none."""
    version: int
    percent: int
    pipeline: Pipeline
    salt: str

    def answers(self, client: str) -> bool:
        """Whether this canary answers ``client``: the same client always lands on the same side."""
        if self.kind != "canary":
            return False
        digest = hashlib.blake2b(f"{self.salt}:{client}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % 10_000 < self.percent * 100


STALE = object()


def _settle() -> None:
    """After a model loads: move what exists now (frameworks, weights, the app) out of the garbage
    collector's reach, so its full passes stay short and do not stall requests for tens of ms."""
    gc.collect()
    gc.freeze()


@dataclass
class _Task:
    """What serves one task now, and what the registry last said should."""

    wanted: int | None = None
    checked: float = float("-inf")
    serving: Pipeline | None = None
    rollout: tuple[str, int, int, str] | None = None
    """(kind, version, percent, salt) of the rollout in progress."""
    arm: Arm | None = None


@dataclass
class _Failure:
    error: str
    at: float = field(default_factory=time.monotonic)


class ServedModels:
    """The pipelines that answer each task, swapped in when the registry moves.

    The alias and rollout are re-read at most every ``ttl`` seconds (promote and rollback
    reach a running server without a restart). ``keep`` loaded versions per task stay warm,
    so a rollback to the version just served moves traffic at once.
    """

    def __init__(self, host: Host, registry: Registry, ttl: float, on_failure: Callable[[str], None] | None = None,
                 retry: float = 30.0, keep: int = 3, integrity_seconds: float = 0.0,
                 on_damaged: Callable[[str, int], None] | None = None, preload_frameworks: bool = False) -> None:
        self.host, self.registry, self.ttl, self.on_failure, self.on_damaged = host, registry, ttl, on_failure, on_damaged
        self.retry, self.keep, self.integrity_seconds, self.preload_frameworks = retry, keep, integrity_seconds, preload_frameworks
        self._tasks: dict[str, _Task] = {}
        self._loaded: dict[str, OrderedDict[int, Pipeline]] = {}
        self._loading: dict[tuple[str, int], Future[Pipeline]] = {}
        self._failed: dict[tuple[str, int], _Failure] = {}
        self._damaged: dict[tuple[str, int], str] = {}
        self._lock = threading.RLock()  # guards the dicts above; never held while loading or reading the database
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="aiaas-loader")
        self.warming = threading.Event()
        """Set while ``warm_all`` runs: the server is not ready yet."""
        self._watch: threading.Thread | None = None
        self._closed = threading.Event()

    # -- the request path: memory only, unless the ttl is due ---------------------------

    def fresh(self, task: str) -> Pipeline | None:
        """The task's pipeline when it serves and its alias was checked within ``ttl``: no I/O."""
        state = self._tasks.get(task)
        if state and state.serving is not None and time.monotonic() - state.checked < self.ttl:
            return state.serving
        return None

    def get(self, task: str, wait: float = 0.0) -> Pipeline:
        """The pipeline that answers ``task`` now. Re-reads the registry when ``ttl`` is due and
        starts loading what it names in the background. Raises NoModel (none promoted),
        ModelUnavailable (the promoted version failed to load and nothing else serves) or
        Loading, after waiting up to ``wait`` seconds for a task that has nothing loaded yet."""
        state = self._refresh(task)
        if state.serving is not None:
            return state.serving
        if state.wanted is None:
            raise NoModel(f"{task} has no promoted model yet; promote one with `aiaas promote {task} VERSION`")
        key = (task, state.wanted)
        future = self._loading.get(key)
        if future is not None and wait > 0:
            try:
                future.result(timeout=wait)
            except FutureTimeout:
                pass
            except Exception:  # noqa: BLE001 - recorded by the loader; answered below
                pass
            state = self._tasks[task]
            if state.serving is not None:
                return state.serving
        failure = self._failed.get(key)
        if failure is not None:
            raise ModelUnavailable(failure.error)
        raise Loading(f"{task} version {state.wanted} is loading; retry shortly")

    def fresh_arm(self, task: str) -> Arm | None | object:
        """The task's rollout arm when checked within ``ttl`` (no I/O), else ``STALE``."""
        state = self._tasks.get(task)
        return state.arm if state and time.monotonic() - state.checked < self.ttl else STALE

    def arm(self, task: str) -> Arm | None:
        """The canary or shadow beside production; None while it loads, or when it failed to
        load (production answers alone rather than fail)."""
        return self._refresh(task).arm

    # -- what the registry says, and loading it ------------------------------------------

    def _refresh(self, task: str) -> _Task:
        state = self._tasks.get(task)
        if state is not None and time.monotonic() - state.checked < self.ttl:
            return state
        self.host.task(task)
        try:
            wanted = self.registry.alias(task)
            rollout = self.registry.rollout(task) if wanted is not None else None
        except Exception:
            if state is None or state.serving is None:
                raise
            log.warning("could not re-read which version of %s serves; version %s goes on serving", task, state.serving.version,
                        exc_info=True)
            state.checked = time.monotonic()  # the registry being down must not stop the answers, nor be asked per request
            return state
        with self._lock:
            state = self._tasks.setdefault(task, _Task())
            state.wanted, state.checked = wanted, time.monotonic()
            state.rollout = (rollout.kind, rollout.version, rollout.percent, f"{task}:{rollout.id}") if rollout is not None else None
            if wanted is None:
                state.serving = None
            else:
                self._want(task, wanted)
            if state.rollout is None:
                state.arm = None
            elif state.arm is None or state.arm.salt != state.rollout[3]:
                state.arm = None
                self._want(task, state.rollout[1])
            self._place(task)
        return state

    def _want(self, task: str, version: int) -> None:
        """Start loading ``version`` unless it is loaded, loading, or failed within ``retry`` seconds."""
        key = (task, version)
        if version in self._loaded.get(task, {}) or key in self._loading:
            return
        failure = self._failed.get(key)
        if failure is not None and time.monotonic() - failure.at < self.retry:
            return
        self._loading[key] = self._pool.submit(self._load, task, version)

    def _load(self, task: str, version: int) -> Pipeline:
        key = (task, version)
        started = time.perf_counter()
        try:
            pipeline = load_version(self.host, self.registry, task, version, warm=True)
        except BaseException as exc:
            error = f"{task} version {version} is promoted but failed to load: {exc}"
            log.exception("%s version %s failed to load; what served before keeps serving", task, version)
            with self._lock:
                self._failed[key] = _Failure(error)
                self._loading.pop(key, None)
            if self.on_failure:
                self.on_failure(task)
            self._record(task, version, "load", str(exc))
            raise
        _settle()
        log.info("%s version %s loaded and warm in %.2f s", task, version, time.perf_counter() - started)
        with self._lock:
            self._failed.pop(key, None)
            self._damaged.pop(key, None)
            versions = self._loaded.setdefault(task, OrderedDict())
            versions[version] = pipeline
            self._loading.pop(key, None)
            self._place(task)
            self._evict(task)
        self._record(task, version, None, None)
        return pipeline

    def _place(self, task: str) -> None:
        """Swap in what the registry names once it is loaded (under the lock)."""
        state = self._tasks.get(task)
        if state is None:
            return
        versions = self._loaded.get(task, {})
        if state.wanted is not None and state.wanted in versions:
            state.serving = versions[state.wanted]
            versions.move_to_end(state.wanted)
        if state.rollout is not None and state.arm is None and state.rollout[1] in versions:
            kind, version, percent, salt = state.rollout
            state.arm = Arm(kind, version, percent, versions[version], salt)

    def _evict(self, task: str) -> None:
        state, versions = self._tasks.get(task), self._loaded.get(task, OrderedDict())
        busy = {state.serving.version if state and state.serving else None, state.arm.version if state and state.arm else None,
                state.wanted if state else None, state.rollout[1] if state and state.rollout else None}
        for version in list(versions):
            if len(versions) <= self.keep:
                break
            if version not in busy:
                del versions[version]

    def _record(self, task: str, version: int, kind: str | None, error: str | None) -> None:
        """Put a load problem in the registry (or clear it), for ``aiaas models`` and the admin API."""
        try:
            if kind is None:
                self.registry.clear_problem(task, version)
            else:
                self.registry.record_problem(task, version, kind, error or "")
        except Exception:  # noqa: BLE001 - the registry being down must not stop serving
            log.warning("could not record %s version %s's load state in the registry", task, version, exc_info=True)

    # -- start-up and what operators see --------------------------------------------------

    def loaded(self, task: str, version: int) -> Pipeline | None:
        """The version when it is in the warm set (no I/O)."""
        return self._loaded.get(task, {}).get(version)

    def version(self, task: str, version: int, wait: float | None = None) -> Pipeline:
        """A version asked for by number (a Ray replica is told which one answers): from the warm set,
        else loaded now, on the loader."""
        with self._lock:
            pipeline = self._loaded.get(task, {}).get(version)
            if pipeline is not None:
                return pipeline
            self._tasks.setdefault(task, _Task())
            future = self._loading.get((task, version)) or self._pool.submit(self._load, task, version)
            self._loading[(task, version)] = future
        return future.result(timeout=wait)

    def warm_all(self, timeout: float | None = None, tasks: list[str] | None = None) -> None:
        """Load and warm every promoted version (and rollout) of every task (or of ``tasks``);
        returns when all have loaded or failed."""
        self.warming.set()
        try:
            for task in tasks or list(self.host.components.tasks):
                try:
                    self._refresh(task)
                except Exception:  # noqa: BLE001 - the registry is down: /readyz says so
                    log.exception("could not read which version of %s serves", task)
            deadline = None if timeout is None else time.monotonic() + timeout
            for future in list(self._loading.values()):
                try:
                    future.result(timeout=None if deadline is None else max(0.0, deadline - time.monotonic()))
                except Exception:  # noqa: BLE001 - recorded by the loader
                    pass
            if self.preload_frameworks:
                self._preload(tasks or list(self.host.components.tasks))
        finally:
            self.warming.clear()

    def _preload(self, tasks: list[str]) -> None:
        """Import the framework of every registered version of these tasks: importing TensorFlow takes seconds of
        CPU, and a promote that needed it while traffic flows would spend them beside the requests."""
        try:
            runtimes = sorted({row.runtime for row in self.registry.versions() if row.task in tasks})
        except Exception:  # noqa: BLE001 - the registry is down: /readyz says so
            return
        for name in runtimes:
            try:
                self.host.runtime(name)
            except Exception as exc:  # noqa: BLE001 - a runtime that is not installed: a version of it fails to load, and says why
                log.info("runtime %s not preloaded: %s", name, exc)
        _settle()  # a framework's import leaves hundreds of thousands of objects for the collector's full passes

    def status(self, task: str) -> tuple[str, dict[str, Any]]:
        """("serving" | "loading" | "failed" | "none", what ``/readyz`` says of the task)."""
        state = self._refresh(task)
        body: dict[str, Any] = {"version": state.serving.version if state.serving else state.wanted}
        if state.serving is not None:
            body["status"] = "serving"
            what = "serving"
        elif state.wanted is None:
            return "none", {"version": None, "status": "no promoted model"}
        elif (task, state.wanted) in self._failed:
            body["status"] = self._failed[(task, state.wanted)].error
            what = "failed"
        else:
            body["status"] = f"version {state.wanted} is loading"
            what = "loading"
        if state.serving is not None and state.wanted != state.serving.version:
            key = (task, state.wanted)
            body["pending"] = {"version": state.wanted,
                               "status": self._failed[key].error if key in self._failed else "loading"}
        if state.rollout is not None and state.arm is None:
            key = (task, state.rollout[1])
            body["rollout"] = {"version": state.rollout[1], "kind": state.rollout[0],
                               "status": self._failed[key].error if key in self._failed else "loading"}
        damaged = {version: why for (name, version), why in self._damaged.items() if name == task}
        if damaged:
            body["integrity"] = {str(version): why for version, why in damaged.items()}
        return what, body

    # -- integrity of what is loaded ------------------------------------------------------

    def start(self, tasks: list[str] | None = None) -> None:
        """Follow the registry in the background (every ``ttl``, at least every half second), so a
        promoted version loads and warms before any request asks for it; and re-verify loaded
        versions every ``integrity_seconds`` (0: never)."""
        if self._watch is None:
            self._closed = threading.Event()
            self._watch = threading.Thread(target=self._follow, args=(tasks or list(self.host.components.tasks), self._closed),
                                           name="aiaas follow registry", daemon=True)
            self._watch.start()

    def close(self) -> None:
        """Stop following the registry (the server is shutting down); what is loaded still answers."""
        self._closed.set()
        self._watch = None

    def _follow(self, tasks: list[str], closed: threading.Event) -> None:
        interval = max(self.ttl, 0.5)
        verified = time.monotonic()
        while not closed.wait(interval):
            for task in tasks:
                try:
                    self._refresh(task)
                except Exception:  # noqa: BLE001 - the registry is briefly down: /readyz says so; try again next time
                    log.debug("could not re-read which version of %s serves", task, exc_info=True)
            if self.integrity_seconds > 0 and time.monotonic() - verified >= self.integrity_seconds:
                self.verify_loaded()
                verified = time.monotonic()

    def verify_loaded(self) -> dict[tuple[str, int], str]:
        """Check every loaded version's files against the digests recorded at registration;
        returns (and reports) those that differ."""
        with self._lock:
            loaded = [(task, version) for task, versions in self._loaded.items() for version in versions]
        for task, version in loaded:
            try:
                row = self.registry.get(task, version)
                verify(self.registry.folder(row), row.provenance.get("manifest_sha256"), f"{task} version {version}")
            except ArtifactDamaged as exc:
                self._report_damage(task, version, str(exc))
            except Exception:  # noqa: BLE001 - a registry that is briefly down is not damage
                log.warning("could not re-verify %s version %s", task, version, exc_info=True)
        return dict(self._damaged)

    def _report_damage(self, task: str, version: int, why: str) -> None:
        with self._lock:
            first = (task, version) not in self._damaged
            self._damaged[(task, version)] = why
            state = self._tasks.get(task)
            busy = state is not None and ((state.serving is not None and state.serving.version == version)
                                          or (state.arm is not None and state.arm.version == version))
            if not busy:  # not answering now: drop it, so it is never swapped back in without a fresh (refused) load
                self._loaded.get(task, {}).pop(version, None)
        if first:
            log.error("%s: files changed on disk since it loaded; this process keeps the copy it verified at load, "
                      "and no process can load it again until the files are restored", why)
            if self.on_damaged:
                self.on_damaged(task, version)
            self._record(task, version, "integrity", why)
