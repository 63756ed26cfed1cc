"""Operator settings, from the environment (prefix ``AIAAS_``) or a ``.env`` file.

``AIAAS_DISABLE_PLUGINS`` is read by ``aiaas.plugins`` straight from the
environment, so plugin discovery never pays for loading these settings."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="AIAAS_", env_file=".env", extra="ignore")

    home: Path = Path(".aiaas")
    """Where the registry database and the artifact store live."""
    artifact_store: str | None = Field(default=None, validation_alias="AIAAS_ARTIFACTS")
    """An object store that holds every version's files and the cluster runs' checkpoints (``s3://bucket/prefix``,
    ``aiaas.store``); the artifact folder under ``home`` is then its local cache. Unset: the folder is the store."""
    database_url: str | None = None
    """Any SQLAlchemy URL; SQLite under ``home`` when unset."""
    max_instances: int = 1000
    """Most instances one predict or explain request may carry."""
    max_request_bytes: int = 16 * 1024 * 1024
    max_image_pixels: int = 50_000_000
    max_request_pixels: int = 200_000_000
    """Most pixels all the images of one request may decode to together."""
    """Most pixels (width x height x frames) an image may decode to: a guard against decompression bombs."""
    batch_max_instances: int = 256
    """Most instances the server joins from concurrent requests into one model call; 1 turns batching off."""
    max_queue_rows: int = 512
    """Most rows that may wait for a task's model; past it a request gets 503 with Retry-After at once."""
    max_queue_seconds: float = 0.5
    """Most time the rows waiting for a task's model may take at its recent speed before requests are shed: lower it for
    tighter latency of what is admitted, at the cost of throughput (smaller batches)."""
    grpc_port: int | None = None
    """Serve the Open Inference Protocol over gRPC on this port too (``aiaas serve --grpc-port``; needs ``aiaas[grpc]``)."""
    grpc_host: str = "127.0.0.1"
    """The interface the gRPC port listens on (``aiaas serve`` sets it to its ``--host``)."""
    latency_target_seconds: float = 0.1
    """The answer time the server holds admitted model requests under when it is overloaded: each task's queue adapts
    to the answer times measured (shrinks past it, grows back under it) and sheds the rest with 503 + Retry-After. 0 turns
    it off, leaving only ``max_queue_rows`` and ``max_queue_seconds``."""
    request_timeout_seconds: float = 10.0
    """A request's deadline when it sends no X-Request-Timeout: past it, it is dropped before the model runs."""
    alias_ttl_seconds: float = 1.0
    """How long a server trusts its cached view of which version serves a task (and of each API key)."""
    prediction_log: bool = True
    """Record every /predict answer (for feedback and ``aiaas monitor``)."""
    prediction_log_days: float = 30.0
    """How long logged predictions and feedback are kept."""
    monitor_interval_seconds: float = 300.0
    """How often a server recomputes the drift gauges on /metrics from the last day of predictions (0: never)."""
    load_retry_seconds: float = 30.0
    """How long a server waits before trying again to load a promoted version that failed to load."""
    preload_frameworks: bool = True
    """Before ready, import the framework of every registered version of a served task (not only the promoted ones), so a
    later promote loads only its model and never spends seconds importing TensorFlow or PyTorch beside live traffic."""
    integrity_check_seconds: float = 60.0
    """How often a server re-verifies the files of the versions it holds against their recorded digests (0: never)."""
    max_memory: str | None = None
    """``aiaas train`` out of core by default, holding at most this much of the data (``2GB``); unset: in memory."""
    small_data_rows: int = 20_000
    """Training data with fewer non-test rows than this is small: candidates are chosen, calibrated and given their operating
    point by k-fold cross-validation, then refitted on every non-test row (``aiaas.crossval``; 0: never)."""
    small_data_rarest: int = 500
    """...as is classification data with fewer than this many rows of its rarest label (0: never)."""
    public_docs: bool = False
    """Serve /docs and /openapi.json without a key even when keys are enforced."""

    @property
    def registry_url(self) -> str:
        return self.database_url or f"sqlite:///{(self.home / 'registry.db').resolve()}"

    @property
    def artifacts(self) -> Path:
        return self.home / "artifacts"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
