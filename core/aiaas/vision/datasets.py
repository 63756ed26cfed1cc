"""Image data sets -> image records (see ``aiaas.vision``) and their labels, for any image task.

- a folder in the ImageFolder convention, ``root/<label>/<image>`` (for scoring, any
  folder of images);
- a CSV manifest ``path,label[,patient_id]`` (paths relative to the CSV's folder);
- a NumPy ``.npz`` with ``<split>_images`` and ``<split>_labels`` (MedMNIST's layout).

``ImageFiles`` says which files are images and how to decode them: PNG and JPEG by
default; a vertical adds its formats (the healthcare plugin adds DICOM) and
registers adapters built from ``ImageFiles(...).folder`` and friends. Options
(``--option key=value``): ``skip_unreadable=true`` leaves out files that cannot be
read (each is named in the model's notes) instead of stopping; ``patient_regex=RE``
takes the group (patient) id from the first group of RE matched on a file name
whose format carries none; ``splits=train,val`` picks .npz splits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress

from aiaas.dataset import Dataset, LoadOptions
from aiaas.errors import InvalidInput
from aiaas.tables import read_table, table_chunks
from aiaas.vision import image_record
from aiaas.vision.decode import Decoded, Decoder, check_pixels, decode_image, max_pixels, to_uint8


def _flag(options: LoadOptions, key: str) -> bool:
    return str(options.extra.get(key, "false")).lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class ImageFiles:
    """Which files are images (``suffixes``, or no suffix and ``sniff`` says yes from
    the first 512 bytes) and the ``decoders`` tried before PNG and JPEG."""

    suffixes: tuple[str, ...] = (".png", ".jpg", ".jpeg")
    decoders: Sequence[Decoder] = ()
    sniff: Callable[[bytes], bool] | None = None

    def is_image(self, path: Path) -> bool:
        if path.suffix.lower() in self.suffixes:
            return True
        if path.suffix or self.sniff is None:
            return False
        with path.open("rb") as handle:
            return self.sniff(handle.read(512))

    def read(self, path: Path) -> Decoded:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InvalidInput(f"{path}: cannot be read ({exc.strerror})") from None
        return decode_image(data, str(path), self.decoders)

    def folder(self, path: Path, options: LoadOptions) -> Dataset:
        return load_folder(self, path, options)

    def manifest(self, path: Path, options: LoadOptions) -> Dataset:
        return load_manifest(self, path, options)

    def folder_stream(self, path: Path, options: LoadOptions, batch_rows: int) -> Iterator[Dataset]:
        return stream_folder(self, path, options, batch_rows)

    def manifest_stream(self, path: Path, options: LoadOptions, batch_rows: int) -> Iterator[Dataset]:
        return stream_manifest(self, path, options, batch_rows)


def _read_images(files: ImageFiles, paths: list[Path], options: LoadOptions, whole: bool = True) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """Records for the files that read, their positions in ``paths``, and notes on the ones skipped
    (``whole``: ``paths`` are the whole data set, not one chunk of it, which may hold nothing readable)."""
    skip = _flag(options, "skip_unreadable")
    try:
        pattern = re.compile(str(options.extra["patient_regex"])) if options.extra.get("patient_regex") else None
    except re.error as exc:
        raise InvalidInput(f"patient_regex {options.extra['patient_regex']!r} is not a regular expression ({exc})") from None
    rows, kept, notes = [], [], []
    with Progress(transient=True, disable=len(paths) < 200) as progress:
        bar = progress.add_task("reading images", total=len(paths))
        for i, path in enumerate(paths):
            try:
                decoded: Decoded = files.read(path)
            except InvalidInput as exc:
                if not skip:
                    raise InvalidInput(f"{exc} (add --option skip_unreadable=true to leave such files out)") from None
                notes.append(f"skipped {exc}")
                continue
            finally:
                progress.update(bar, advance=1)
            if pattern and decoded.patient_id is None:
                match = pattern.search(path.name)
                decoded.patient_id = match.group(1) if match and match.groups() else None
            rows.append(image_record(decoded, str(path)))
            kept.append(i)
    if not rows and whole:
        raise InvalidInput("none of the images could be read")
    return rows, kept, notes


def _mine(chunk: int, options: LoadOptions) -> bool:
    """Whether the ``chunk``-th chunk of the source is in the part ``options.part`` asks for."""
    return options.part is None or chunk % options.part[1] == options.part[0]


def _folder_dataset(reader: ImageFiles, files: list[Path], labels: list[str] | None, path: Path, options: LoadOptions,
                    whole: bool = True) -> Dataset:
    rows, kept, notes = _read_images(reader, files, options, whole)
    return Dataset(pd.DataFrame(rows), None if labels is None else pd.Series([labels[i] for i in kept], name="label", dtype=object),
                   path, notes)


def load_folder(reader: ImageFiles, path: Path, options: LoadOptions) -> Dataset:
    return _folder_dataset(reader, *_folder_listing(reader, path, options), path, options)


def stream_folder(reader: ImageFiles, path: Path, options: LoadOptions, batch_rows: int) -> Iterator[Dataset]:
    """``load_folder`` in chunks of ``batch_rows`` images: only the listing (paths and labels) is held
    whole; each chunk's images are decoded when it is read."""
    files, labels = _folder_listing(reader, path, options)
    for number, start in enumerate(range(0, len(files), batch_rows)):
        if _mine(number, options):
            stop = start + batch_rows
            yield _folder_dataset(reader, files[start:stop], None if labels is None else labels[start:stop], path, options, whole=False)


def _folder_listing(reader: ImageFiles, path: Path, options: LoadOptions) -> tuple[list[Path], list[str] | None]:
    if not path.is_dir():
        raise InvalidInput(f"{path}: not a folder; the image-folder adapter reads root/<label>/<image files>")
    files = sorted(p for p in path.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts) and reader.is_image(p))
    if not files:
        raise InvalidInput(f"{path}: no image files in it (looked for {', '.join(reader.suffixes)})")
    labels = None
    if options.labelled:
        loose = [f for f in files if len(f.relative_to(path).parts) < 2]
        if loose:
            raise InvalidInput(f"{path}: {loose[0].name} is not in a label folder; training data is laid out as root/<label>/<image>")
        labels = [f.relative_to(path).parts[0] for f in files]
    return files, labels


def load_manifest(reader: ImageFiles, path: Path, options: LoadOptions) -> Dataset:
    label = options.label or "label"
    return _manifest_rows(reader, read_table(path, text_columns=("path", "patient_id", label)), path, options)


def stream_manifest(reader: ImageFiles, path: Path, options: LoadOptions, batch_rows: int) -> Iterator[Dataset]:
    """``load_manifest`` in chunks of ``batch_rows`` rows of the manifest, each chunk's images decoded when it is read."""
    label, offset = options.label or "label", 0
    for number, frame in enumerate(table_chunks(path, batch_rows, text_columns=("path", "patient_id", label))):
        if _mine(number, options):
            yield _manifest_rows(reader, frame, path, options, offset)
        offset += len(frame)


def _manifest_rows(reader: ImageFiles, frame: pd.DataFrame, path: Path, options: LoadOptions, offset: int | None = None) -> Dataset:
    """The images a manifest's rows name (``offset``: where these rows start in a streamed manifest)."""
    label = options.label or "label"
    first = 2 + (offset or 0)  # the line of the first row: after the header
    if "path" not in frame.columns:
        raise InvalidInput(f"{path}: a manifest needs a 'path' column; the columns are {', '.join(frame.columns)}")
    if options.labelled and label not in frame.columns:
        raise InvalidInput(f"{path}: no label column {label!r}; the columns are {', '.join(frame.columns)}; name yours with --label")
    if frame["path"].isna().any():
        raise InvalidInput(f"{path}: row {int(np.flatnonzero(frame['path'].isna())[0]) + first} has no path")
    files = [(path.parent / p) for p in frame["path"]]
    missing = [(i, f) for i, f in enumerate(files) if not f.is_file()]
    if missing:
        i, f = missing[0]
        more = f"; {len(missing)} such row(s)" + ("" if offset is None else " in these rows")
        raise InvalidInput(f"{path}: row {i + first} names {frame['path'].iloc[i]}, which is not a file ({f}){more}")
    rows, kept, notes = _read_images(reader, files, options, offset is None)
    records = pd.DataFrame(rows)
    extra = frame.iloc[kept].drop(columns=[c for c in ("path", label) if c in frame.columns]).reset_index(drop=True)
    if "patient_id" in extra.columns:
        records["patient_id"] = extra.pop("patient_id").astype(str)
    records = pd.concat([records, extra], axis=1)
    labels = frame[label].iloc[kept].reset_index(drop=True) if label in frame.columns and options.labelled else None
    return Dataset(records, labels, path, notes)


SPLIT_ORDER = ("train", "val", "validation", "test")


def load_npz(path: Path, options: LoadOptions) -> Dataset:
    try:
        archive = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise InvalidInput(f"{path}: not a readable .npz file ({exc})") from None
    with archive:
        prefixes = sorted({k[: -len("_images")] for k in archive.files if k.endswith("_images")},
                          key=lambda p: (SPLIT_ORDER.index(p) if p in SPLIT_ORDER else len(SPLIT_ORDER), p))
        if not prefixes:
            raise InvalidInput(f"{path}: no '<split>_images' arrays; it holds {', '.join(archive.files) or 'nothing'}")
        wanted = str(options.extra.get("splits", "")).strip()
        if wanted:
            chosen = [p.strip() for p in wanted.split(",") if p.strip()]
            unknown = [p for p in chosen if p not in prefixes]
            if unknown:
                raise InvalidInput(f"{path}: no split {unknown[0]!r}; it has {', '.join(prefixes)}")
            prefixes = chosen
        rows: list[dict[str, Any]] = []
        labels: list[Any] = []
        limit = max_pixels()
        for prefix in prefixes:
            try:
                images = archive[f"{prefix}_images"]
            except ValueError as exc:  # object arrays would need pickle, which is refused
                raise InvalidInput(f"{path}: {prefix}_images cannot be read without pickle ({exc})") from None
            if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] not in (1, 3)):
                raise InvalidInput(f"{path}: {prefix}_images has shape {images.shape}; expected (n, height, width[, 1 or 3])")
            check_pixels(f"{path}:{prefix}_images", int(np.prod(images.shape[1:3])), limit)
            if options.labelled:
                key = f"{prefix}_labels"
                if key not in archive.files:
                    raise InvalidInput(f"{path}: {prefix}_images has no {key}")
                y = archive[key]
                if y.ndim == 2 and y.shape[1] != 1:
                    raise InvalidInput(f"{path}: {key} has {y.shape[1]} columns; one label per image is expected")
                if len(y) != len(images):
                    raise InvalidInput(f"{path}: {key} has {len(y)} labels for {len(images)} images")
                labels.extend(y.reshape(-1).tolist())
            for i, image in enumerate(images):
                pixels = image[..., 0] if image.ndim == 3 and image.shape[-1] == 1 else image
                rows.append(image_record(Decoded(np.ascontiguousarray(to_uint8(pixels)), "NPZ"), f"{path.name}:{prefix}[{i}]"))
    labels_series = pd.Series(labels, name="label") if options.labelled else None
    return Dataset(pd.DataFrame(rows), labels_series, path, [f"splits {', '.join(prefixes)} of {path.name}"])


PLAIN = ImageFiles()
"""PNG and JPEG: ready-made adapters for any image task (``aiaas.vision.datasets:load_plain_folder``, ...)."""
load_plain_folder = PLAIN.folder
load_plain_manifest = PLAIN.manifest
stream_plain_folder = PLAIN.folder_stream
stream_plain_manifest = PLAIN.manifest_stream
