"""Which version of a task to use, and loading it (kept warm for the server)."""

from __future__ import annotations

import gc
import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from aiaas.errors import ModelUnavailable, NoModel, UserError
from aiaas.integrity import verify
from aiaas.pipeline import Pipeline
from aiaas.plugins import Host
from aiaas.registry import Registry

log = logging.getLogger("aiaas.serving")


def load_version(host: Host, registry: Registry, task: str, version: int | None = None) -> Pipeline:
    """The given version, else the production one."""
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
        return Pipeline.load(host, folder, version)
    except FileNotFoundError as exc:
        raise UserError(f"{task} version {version}: its files are missing from the artifact store ({exc.filename})") from exc


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
class _Entry:
    """A task's served version: its pipeline, or why it failed to load."""

    version: int
    checked: float
    pipeline: Pipeline | None = None
    error: str | None = None

    def answer(self) -> Pipeline:
        if self.pipeline is None:
            raise ModelUnavailable(self.error or "")
        return self.pipeline


class ServedModels:
    """The production pipeline of each task, reloaded when the alias moves.

    The alias is re-read at most every ``ttl`` seconds, so promote and rollback
    reach a running server without a restart. A version that fails to load is
    remembered for ``ttl`` too, so a broken artifact costs one load attempt per
    interval rather than one per request.
    """

    def __init__(self, host: Host, registry: Registry, ttl: float, on_failure: Callable[[str], None] | None = None) -> None:
        self.host, self.registry, self.ttl, self.on_failure = host, registry, ttl, on_failure
        self._entries: dict[str, _Entry] = {}
        self._arms: dict[str, tuple[float, Arm | None]] = {}
        self._lock = threading.Lock()

    def fresh(self, task: str) -> Pipeline | None:
        """The task's pipeline when it is loaded and its alias checked within ``ttl``: no I/O."""
        entry = self._entries.get(task)
        if entry and entry.pipeline is not None and time.monotonic() - entry.checked < self.ttl:
            return entry.pipeline
        return None

    def get(self, task: str) -> Pipeline:
        entry = self._entries.get(task)
        if entry and time.monotonic() - entry.checked < self.ttl:
            return entry.answer()
        with self._lock:
            now = time.monotonic()
            entry = self._entries.get(task)
            if entry and now - entry.checked < self.ttl:
                return entry.answer()
            version = self.registry.alias(task)
            if version is None:
                self._entries.pop(task, None)
                raise NoModel(f"{task} has no promoted model yet; promote one with `aiaas promote {task} VERSION`")
            if entry is None or entry.version != version or entry.pipeline is None:
                try:
                    entry = _Entry(version, now, pipeline=load_version(self.host, self.registry, task, version))
                    _settle()
                except Exception as exc:
                    log.exception("%s version %s failed to load", task, version)
                    if self.on_failure:
                        self.on_failure(task)
                    entry = _Entry(version, now, error=f"{task} version {version} is promoted but failed to load: {exc}")
            entry.checked = now
            self._entries[task] = entry
            return entry.answer()

    def fresh_arm(self, task: str) -> Arm | None | object:
        """The task's rollout arm when checked within ``ttl`` (no I/O), else ``STALE``."""
        cached = self._arms.get(task)
        return cached[1] if cached and time.monotonic() - cached[0] < self.ttl else STALE

    def arm(self, task: str) -> Arm | None:
        """The canary or shadow beside production, re-read with the alias. One that fails to
        load is logged and left out: production answers alone rather than fail."""
        arm = self.fresh_arm(task)
        if arm is not STALE:
            return arm  # type: ignore[return-value]
        with self._lock:
            previous = self._arms.get(task, (0.0, None))[1]
            rollout = self.registry.rollout(task)
            arm = None
            if rollout is not None:
                salt = f"{task}:{rollout.id}"
                if previous is not None and previous.salt == salt:
                    arm = previous
                else:
                    try:
                        pipeline = load_version(self.host, self.registry, task, rollout.version)
                        arm = Arm(rollout.kind, rollout.version, rollout.percent, pipeline, salt)
                    except Exception:
                        log.exception("%s: the %s of version %s failed to load; production answers alone", task, rollout.kind, rollout.version)
                        if self.on_failure:
                            self.on_failure(task)
            self._arms[task] = (time.monotonic(), arm)
            return arm
