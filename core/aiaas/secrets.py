"""Keys a deployment keeps to itself, one file each under ``AIAAS_HOME/secrets`` (32 random
bytes, mode 0600, made on first use): keyed pseudonyms of patients and learners stay
the same across restarts and processes, and mean nothing without the key."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from functools import lru_cache
from pathlib import Path


@lru_cache(maxsize=16)
def _key_at(path: Path) -> bytes:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}")
        partial.write_bytes(secrets.token_bytes(32))
        partial.chmod(0o600)
        try:
            os.link(partial, path)  # first writer wins; a concurrent process reads the same key
        except FileExistsError:
            pass
        finally:
            partial.unlink()
    return path.read_bytes()


def key(name: str) -> bytes:
    from aiaas.settings import get_settings

    # abspath, not resolve: this runs once per logged prediction, and resolving walks the path with a syscall per part
    return _key_at(Path(os.path.abspath(get_settings().home / "secrets" / f"{name}.key")))


def keyed_digest(name: str, kind: str, value: str) -> bytes:
    """HMAC-SHA256 of ``kind:value`` under the named key."""
    return hmac.new(key(name), f"{kind}:{value}".encode(), hashlib.sha256).digest()
