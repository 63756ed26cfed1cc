"""Every file of a version is checked before it serves: the manifest records each
file's SHA-256, and the registry's row records the manifest's own, so a changed or
damaged file (or a rewritten manifest) is refused naming the version and the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from aiaas.errors import UserError

MANIFEST = "manifest.json"


class ArtifactDamaged(UserError):
    """A version's files differ from what was recorded when it was registered."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def file_digests(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder`` but the manifest, by relative path."""
    return {p.relative_to(folder).as_posix(): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file() and p.name != MANIFEST}


def verify(folder: Path, manifest_sha256: str | None, label: str) -> None:
    """Raise ArtifactDamaged naming the first file that is missing or changed. Versions
    registered before digests were recorded have none to check."""
    manifest = folder / MANIFEST
    if manifest_sha256 is None:
        return
    if not manifest.is_file() or sha256(manifest) != manifest_sha256:
        raise ArtifactDamaged(f"{label}: {MANIFEST} does not match the SHA-256 recorded at registration (changed or damaged)")
    for name, expected in json.loads(manifest.read_text()).get("files", {}).items():
        path = folder / name
        if not path.is_file():
            raise ArtifactDamaged(f"{label}: file {name} is missing")
        if sha256(path) != expected:
            raise ArtifactDamaged(f"{label}: file {name} does not match the SHA-256 recorded at registration (changed or damaged)")
