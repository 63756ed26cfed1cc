"""Seeded synthetic chest radiographs with a learnable signal.

Each patient gets an anatomy (torso, two darker lung fields, mediastinum and
spine, heart shadow, ribs) varied in size, position, exposure and tilt, and one to
three images of it with fresh noise. Pneumonia images (about 40%) add one to three
soft, patchy opacities inside a lung field; normal images sometimes carry a faint
benign blob elsewhere, so the model has to learn where and what, not just "a blob".

``write_sample(out, rows, seed)`` writes ``out/<label>/<patient>_<n>.png`` (the folder
convention) plus ``out/manifest.csv`` (path, label, patient_id);
``format="dicom"`` writes 16-bit DICOM files instead, with rescale and window
attributes, some MONOCHROME1, and invented patient names and dates, so the
de-identification and display pipeline are exercised end to end.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

PREVALENCE = 0.4
LABELS = ("normal", "pneumonia")


@dataclass
class Anatomy:
    scale: float
    dx: float
    dy: float
    tilt: float
    exposure: float
    contrast: float


def _anatomy(rng: np.random.Generator) -> Anatomy:
    return Anatomy(rng.uniform(0.9, 1.1), rng.uniform(-0.05, 0.05), rng.uniform(-0.05, 0.05), rng.uniform(-0.08, 0.08),
                   rng.uniform(-0.08, 0.08), rng.uniform(0.85, 1.15))


def _blob(xx: np.ndarray, yy: np.ndarray, x: float, y: float, sx: float, sy: float) -> np.ndarray:
    return np.exp(-(((xx - x) / sx) ** 2 + ((yy - y) / sy) ** 2))


def _smooth_noise(rng: np.random.Generator, size: int, cells: int = 6) -> np.ndarray:
    """Low-frequency texture: a coarse random grid, bilinearly upsampled."""
    from PIL import Image

    coarse = rng.random((cells, cells)).astype(np.float32)
    return np.asarray(Image.fromarray(coarse, mode="F").resize((size, size), Image.Resampling.BILINEAR))


def radiograph(rng: np.random.Generator, anatomy: Anatomy, positive: bool, size: int = 64) -> np.ndarray:
    """One image as floats in [0, 1] (bright = dense, as displayed)."""
    grid = np.linspace(-1, 1, size)
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    c, s = np.cos(anatomy.tilt), np.sin(anatomy.tilt)
    x = (c * xx - s * yy - anatomy.dx) / anatomy.scale
    y = (s * xx + c * yy - anatomy.dy) / anatomy.scale
    body = np.exp(-((x / 0.88) ** 8 + (y / 1.05) ** 8)) * 0.55
    lungs = [(-0.38, -0.08), (0.38, -0.08)]
    lung_mask = sum(np.exp(-(((x - lx) / 0.27) ** 4 + ((y - ly) / 0.55) ** 4)) for lx, ly in lungs)
    image = body - 0.32 * lung_mask
    image += 0.28 * np.exp(-((x / 0.11) ** 2)) * (np.abs(y) < 0.95)  # mediastinum and spine
    image += 0.22 * _blob(x, y, 0.14, 0.28, 0.24, 0.2)  # heart shadow
    image += 0.05 * (np.sin((y + 0.15 * np.abs(x)) * np.pi * 7) ** 2) * lung_mask  # ribs
    if positive:
        for _ in range(rng.integers(1, 4)):
            lx, ly = lungs[rng.integers(0, 2)]
            ox, oy = lx + rng.uniform(-0.14, 0.14), ly + rng.uniform(-0.35, 0.35)
            patch = _blob(x, y, ox, oy, rng.uniform(0.08, 0.17), rng.uniform(0.08, 0.2)) * (0.5 + _smooth_noise(rng, size, 8))
            image += rng.uniform(0.15, 0.3) * patch * lung_mask
    elif rng.random() < 0.3:  # a benign density outside the lungs
        image += 0.12 * _blob(x, y, rng.uniform(-0.6, 0.6), rng.uniform(0.7, 0.9), 0.08, 0.06)
    image += 0.05 * (_smooth_noise(rng, size) - 0.5) + rng.normal(0, 0.035, image.shape)
    image = (image - 0.25) * anatomy.contrast + 0.25 + anatomy.exposure
    return np.clip(image, 0, 1)


def generate(rows: int, seed: int, size: int = 64) -> tuple[list[np.ndarray], list[str], list[str]]:
    """(images, labels, patient ids) for ``rows`` images."""
    rng = np.random.default_rng(seed)
    images, labels, patients = [], [], []
    number = 0
    while len(images) < rows:
        number += 1
        anatomy, positive = _anatomy(rng), bool(rng.random() < PREVALENCE)
        for _ in range(min(int(rng.integers(1, 4)), rows - len(images))):
            images.append(radiograph(rng, anatomy, positive, size))
            labels.append(LABELS[int(positive)])
            patients.append(f"P{number:05d}")
    return images, labels, patients


def _dicom(pixels: np.ndarray, patient: str, index: int, seed: int, monochrome1: bool) -> object:
    """A 12-bit CR-like DICOM dataset with the identifying attributes a real one carries."""
    from pydicom.dataset import FileMetaDataset
    from pydicom.dataset import FileDataset
    from pydicom.uid import ExplicitVRLittleEndian, generate_uid

    # Stored values: 12-bit, offset by the intercept; the window maps them back to the picture.
    values = np.round(pixels * 3000 + 500).astype(np.uint16)
    if monochrome1:
        values = (4095 - values).astype(np.uint16)
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.1"  # Computed Radiography Image Storage
    meta.MediaStorageSOPInstanceUID = generate_uid(entropy_srcs=[f"{seed}-{patient}-{index}"])
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = FileDataset(None, {}, file_meta=meta, preamble=b"\0" * 128)
    ds.SOPClassUID, ds.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    ds.StudyInstanceUID = generate_uid(entropy_srcs=[f"{seed}-{patient}-study"])
    ds.SeriesInstanceUID = generate_uid(entropy_srcs=[f"{seed}-{patient}-series-{index}"])
    ds.PatientName = f"Synthetic^Patient{patient[1:]}"
    ds.PatientID = patient
    ds.PatientBirthDate = "19600101"
    ds.PatientSex = "O"
    ds.StudyDate = ds.ContentDate = "20240101"
    ds.InstitutionName = "Sample General Hospital"
    ds.ReferringPhysicianName = "Referrer^Sample"
    ds.Modality, ds.BodyPartExamined, ds.ViewPosition = "CR", "CHEST", "PA"
    ds.Rows, ds.Columns = values.shape
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME1" if monochrome1 else "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    ds.RescaleSlope, ds.RescaleIntercept = 1, 0
    ds.WindowCenter, ds.WindowWidth = (4095 - 2000, 3000) if monochrome1 else (2000, 3000)
    ds.PixelData = values.tobytes()
    return ds


def write_sample(out: Path, rows: int, seed: int = 0, format: str = "png", size: int = 64) -> Path:
    """Write ``rows`` images under the folder ``out`` in the folder convention; returns ``out``."""
    if format not in ("png", "dicom"):
        raise ValueError(f"format must be png or dicom, not {format!r}")
    if Path(out).suffix and not Path(out).is_dir():
        raise ValueError(f"the sample is a folder of images (one folder per label, and manifest.csv): give --out a folder, not {Path(out).name!r}")
    from PIL import Image

    images, labels, patients = generate(rows, seed, int(size))
    out = Path(out)
    for label in LABELS:
        (out / label).mkdir(parents=True, exist_ok=True)
    manifest = []
    counts: dict[str, int] = {}
    for i, (pixels, label, patient) in enumerate(zip(images, labels, patients)):
        counts[patient] = counts.get(patient, 0) + 1
        stem = f"{label}/{patient}_{counts[patient]}"
        if format == "png":
            name = f"{stem}.png"
            Image.fromarray(np.round(pixels * 255).astype(np.uint8)).save(out / name)
        else:
            name = f"{stem}.dcm"
            _dicom(pixels, patient, counts[patient], seed, monochrome1=i % 4 == 3).save_as(out / name, enforce_file_format=True)
        manifest.append({"path": name, "label": label, "patient_id": patient})
    pd.DataFrame(manifest).to_csv(out / "manifest.csv", index=False)
    return out
