"""An artifact store on an object store (``AIAAS_ARTIFACTS=s3://bucket/prefix``), so every node and
every serving replica reads the same versions and a cluster's runs keep their checkpoints there.

The store is reached through pyarrow's filesystems: any URI ``pyarrow.fs.FileSystem.from_uri``
takes (``s3://``, ``gs://``, ``abfs://``, ``hdfs://``), with its options in the query
(``s3://models/aiaas?endpoint_override=minio:9000&scheme=http``) or, for S3, the usual
``AWS_*`` variables. The local artifact folder (``AIAAS_HOME/artifacts``) becomes a cache of it:

- a version is written locally, then uploaded file by file, and only then is its row committed,
  so a row never names files the store does not hold;
- a version whose files are not in the cache is fetched whole into a temporary folder and renamed
  into place, then checked against the digests recorded at registration like any other
  (``aiaas.integrity``): a file changed in the bucket is refused, never served.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from aiaas.errors import UserError

CHUNK = 8 * 1024 * 1024


class ObjectStore:
    def __init__(self, uri: str) -> None:
        import pyarrow.fs as pafs

        self.uri = uri
        try:
            self.fs, root = pafs.FileSystem.from_uri(uri)
        except (ValueError, OSError) as exc:  # pyarrow's ArrowInvalid is a ValueError
            raise UserError(f"AIAAS_ARTIFACTS={uri}: {exc}") from None
        self.root = root.rstrip("/")
        self.base = uri.split("?", 1)[0].rstrip("/")
        """The store's address without its options: what Ray's storage path takes beside ``fs``."""

    def path(self, relative: str) -> str:
        return f"{self.root}/{relative}".rstrip("/")

    def upload(self, folder: Path, relative: str) -> None:
        for file in sorted(p for p in folder.rglob("*") if p.is_file()):
            with file.open("rb") as source, self.fs.open_output_stream(self.path(f"{relative}/{file.relative_to(folder).as_posix()}")) as sink:
                shutil.copyfileobj(source, sink, CHUNK)

    def fetch(self, relative: str, target: Path) -> bool:
        """Copy what the store holds under ``relative`` into ``target`` (all or nothing); False if it holds nothing."""
        import pyarrow.fs as pafs

        base = self.path(relative)
        found = [info for info in self.fs.get_file_info(pafs.FileSelector(base, recursive=True, allow_not_found=True))
                 if info.type == pafs.FileType.File]
        if not found:
            return False
        partial = target.with_name(f".fetching-{uuid.uuid4().hex}-{target.name}")
        try:
            for info in found:
                local = partial / info.path[len(base) + 1:]
                local.parent.mkdir(parents=True, exist_ok=True)
                with self.fs.open_input_stream(info.path) as source, local.open("wb") as sink:
                    shutil.copyfileobj(source, sink, CHUNK)
            try:
                partial.rename(target)
            except OSError:  # another process on this machine fetched it first
                if not target.exists():
                    raise
        finally:
            shutil.rmtree(partial, ignore_errors=True)
        return True

    def remove(self, relative: str) -> None:
        try:
            self.fs.delete_dir(self.path(relative))
        except OSError:
            pass

    def read_text(self, relative: str) -> str | None:
        try:
            with self.fs.open_input_stream(self.path(relative)) as source:
                return source.read().decode()
        except OSError:
            return None

    def write_text(self, relative: str, text: str) -> None:
        with self.fs.open_output_stream(self.path(relative)) as sink:
            sink.write(text.encode())

    def storage(self, relative: str) -> tuple[str, Any]:
        """Ray Train's ``storage_path`` and ``storage_filesystem`` for a folder of the store."""
        return self.path(relative), self.fs


def store_of(uri: str | None) -> ObjectStore | None:
    return ObjectStore(uri) if uri else None
