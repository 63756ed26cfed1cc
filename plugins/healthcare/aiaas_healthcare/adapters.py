"""Image data sets -> image records (see ``aiaas.vision``) and their labels.

- a folder in the ImageFolder convention, ``root/<label>/<image>`` (for scoring, any
  folder of images);
- a CSV manifest ``path,label[,patient_id]`` (paths relative to the CSV's folder);
- a NumPy ``.npz`` with ``<split>_images`` and ``<split>_labels`` (MedMNIST's layout).

Files are PNG, JPEG or DICOM (``.dcm``, or no suffix and the DICOM preamble). Options
(``--option key=value``): ``skip_unreadable=true`` leaves out files that cannot be
read (each is named in the model's notes) instead of stopping; ``patient_regex=RE``
takes the patient id from the first group of RE matched on a PNG/JPEG file name
(DICOM files carry their own, pseudonymised); ``splits=train,val`` picks .npz splits.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from rich.progress import Progress

from aiaas import Dataset, InvalidInput, LoadOptions
from aiaas.tables import read_table
from aiaas.vision import image_record
from aiaas.vision.decode import Decoded, check_pixels, max_pixels, to_uint8
from aiaas_healthcare.dicom import is_dicom
from aiaas_healthcare.images import SUFFIXES, read_file


def _flag(options: LoadOptions, key: str) -> bool:
    return str(options.extra.get(key, "false")).lower() in ("1", "true", "yes")


def _looks_like_image(path: Path) -> bool:
    if path.suffix.lower() in SUFFIXES:
        return True
    if path.suffix or path.name.upper() == "DICOMDIR":
        return False
    with path.open("rb") as handle:
        return is_dicom(handle.read(132))


def _read_images(paths: list[Path], options: LoadOptions) -> tuple[list[dict[str, Any]], list[int], list[str]]:
    """Records for the files that read, their positions in ``paths``, and notes on the ones skipped."""
    skip = _flag(options, "skip_unreadable")
    pattern = re.compile(options.extra["patient_regex"]) if options.extra.get("patient_regex") else None
    rows, kept, notes = [], [], []
    with Progress(transient=True, disable=len(paths) < 200) as progress:
        bar = progress.add_task("reading images", total=len(paths))
        for i, path in enumerate(paths):
            try:
                decoded: Decoded = read_file(path)
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
    if not rows:
        raise InvalidInput("none of the images could be read")
    return rows, kept, notes


def load_folder(path: Path, options: LoadOptions) -> Dataset:
    if not path.is_dir():
        raise InvalidInput(f"{path}: not a folder; the image-folder adapter reads root/<label>/<image files>")
    files = sorted(p for p in path.rglob("*")
                   if p.is_file() and not any(part.startswith(".") for part in p.relative_to(path).parts) and _looks_like_image(p))
    if not files:
        raise InvalidInput(f"{path}: no PNG, JPEG or DICOM files in it")
    labels = None
    if options.labelled:
        loose = [f for f in files if len(f.relative_to(path).parts) < 2]
        if loose:
            raise InvalidInput(f"{path}: {loose[0].name} is not in a label folder; training data is laid out as root/<label>/<image>")
        labels = [f.relative_to(path).parts[0] for f in files]
    rows, kept, notes = _read_images(files, options)
    return Dataset(pd.DataFrame(rows), None if labels is None else pd.Series([labels[i] for i in kept], name="label"), path, notes)


def load_manifest(path: Path, options: LoadOptions) -> Dataset:
    label = options.label or "label"
    frame = read_table(path, text_columns=("path", "patient_id", label))
    if "path" not in frame.columns:
        raise InvalidInput(f"{path}: a manifest needs a 'path' column; the columns are {', '.join(frame.columns)}")
    if options.labelled and label not in frame.columns:
        raise InvalidInput(f"{path}: no label column {label!r}; the columns are {', '.join(frame.columns)}; name yours with --label")
    if frame["path"].isna().any():
        raise InvalidInput(f"{path}: row {int(np.flatnonzero(frame['path'].isna())[0]) + 2} has no path")
    files = [(path.parent / p) for p in frame["path"]]
    missing = [(i, f) for i, f in enumerate(files) if not f.is_file()]
    if missing:
        i, f = missing[0]
        raise InvalidInput(f"{path}: row {i + 2} names {frame['path'].iloc[i]}, which is not a file ({f}); {len(missing)} such row(s)")
    rows, kept, notes = _read_images(files, options)
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
