"""DICOM files -> display pixels, the way a reading workstation shows them.

The header is de-identified first (``deidentify``). Then, for grayscale images:
the modality LUT (Rescale Slope/Intercept or a Modality LUT Sequence) turns stored
values into modality units (Hounsfield units for CT); the first VOI window (Window
Center/Width, LINEAR, LINEAR_EXACT or SIGMOID) or VOI LUT maps them to display
levels, or the full range is used when the file has neither; MONOCHROME1 (where
higher values are darker) is inverted so that bright always means dense. Colour
images (RGB, YBR, palette) become RGB. 8- to 16-bit data, signed or not, end as
8-bit pixels. A multi-frame file contributes its first frame.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from aiaas import InvalidInput
from aiaas import UnsupportedMedia
from aiaas.vision import Decoded, check_pixels, to_uint8
from aiaas_healthcare.deidentify import deidentify

ECHOED = ("Modality", "BodyPartExamined", "ViewPosition", "PhotometricInterpretation", "Rows", "Columns", "BitsStored",
          "NumberOfFrames", "PixelSpacing", "PatientID", "StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID",
          "PatientIdentityRemoved", "DeidentificationMethod", "BurnedInAnnotation")
"""De-identified attributes an answer may echo."""


def is_dicom(data: bytes) -> bool:
    return len(data) >= 132 and data[128:132] == b"DICM"


def window(values: np.ndarray, center: float, width: float, function: str = "LINEAR") -> np.ndarray:
    """DICOM PS3.3 C.11.2.1.2: values -> display levels in [0, 1]."""
    if function == "SIGMOID":
        return 1.0 / (1.0 + np.exp(-4.0 * (values - center) / width))
    if function == "LINEAR_EXACT":
        return np.clip((values - center) / width + 0.5, 0.0, 1.0)
    width = max(width, 1.0)
    return np.clip((values - (center - 0.5)) / (width - 1.0) + 0.5, 0.0, 1.0) if width > 1 else (values > center - 0.5).astype(float)


def _first(value: Any, keyword: str) -> float:
    try:
        number = float(value[0]) if hasattr(value, "__len__") and not isinstance(value, str) else float(value)
    except (TypeError, ValueError, IndexError):
        raise InvalidInput(f"{keyword} {str(value)[:40]!r} is not a number") from None
    if not np.isfinite(number):
        raise InvalidInput(f"{keyword} {str(value)[:40]!r} is not a finite number")
    return number


def display_pixels(ds: Any, stored: np.ndarray) -> np.ndarray:
    from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, convert_color_space

    frames = int(ds.get("NumberOfFrames", 1) or 1)
    if frames > 1:
        stored = stored[0]
    photometric = str(ds.get("PhotometricInterpretation", "MONOCHROME2")).upper()
    if photometric == "PALETTE COLOR":
        if "RedPaletteColorLookupTableDescriptor" not in ds and "PaletteColorLookupTableSequence" not in ds:
            raise InvalidInput("PhotometricInterpretation is PALETTE COLOR but the file has no palette lookup tables")
        return to_uint8(apply_color_lut(stored, ds))
    if photometric.startswith("YBR"):
        return to_uint8(convert_color_space(stored, photometric, "RGB"))
    if stored.ndim == 3:  # RGB
        return to_uint8(stored)
    values = apply_modality_lut(stored, ds).astype("float64")
    if "WindowCenter" in ds and "WindowWidth" in ds:
        function = str(ds.get("VOILUTFunction", "LINEAR") or "LINEAR").upper()
        levels = window(values, _first(ds.WindowCenter, "WindowCenter"), _first(ds.WindowWidth, "WindowWidth"), function)
    elif "VOILUTSequence" in ds:
        levels = to_uint8(apply_voi_lut(stored, ds, index=0)) / 255.0
    else:
        low, high = float(values.min()), float(values.max())
        levels = (values - low) / (high - low) if high > low else np.zeros_like(values)
    if photometric == "MONOCHROME1":
        levels = 1.0 - levels
    return np.round(levels * 255).astype(np.uint8)


def metadata(ds: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for keyword in ECHOED:
        if keyword in ds and ds.get(keyword) not in (None, ""):
            value = ds.get(keyword)
            out[keyword] = [float(v) for v in value] if keyword == "PixelSpacing" else (value if isinstance(value, int) else str(value))
    out["TransferSyntax"] = ds.file_meta.TransferSyntaxUID.name if "TransferSyntaxUID" in ds.file_meta else None
    return out


def decode_dicom(data: bytes, name: str, limit: int) -> Decoded | None:
    """A ``aiaas.vision`` decoder: None when the bytes are not DICOM Part 10."""
    if not is_dicom(data):
        return None
    import pydicom
    from pydicom.pixels import get_decoder

    try:
        ds = pydicom.dcmread(io.BytesIO(data))
    except Exception as exc:  # pydicom raises many types for damaged headers
        raise InvalidInput(f"{name}: corrupt DICOM file ({type(exc).__name__}: {exc})") from None
    deidentify(ds)
    if "PixelData" not in ds:
        raise InvalidInput(f"{name}: the DICOM file has no pixel data (a {ds.get('Modality', 'non-image')} object?)")
    rows, columns = int(ds.get("Rows", 0) or 0), int(ds.get("Columns", 0) or 0)
    check_pixels(name, rows * columns * int(ds.get("NumberOfFrames", 1) or 1), limit)
    syntax = ds.file_meta.TransferSyntaxUID
    if syntax.is_compressed:
        try:
            decoder = get_decoder(syntax)
        except NotImplementedError:
            raise UnsupportedMedia(f"{name}: transfer syntax {syntax.name} ({syntax}) is not supported") from None
        if not decoder.is_available:
            needs = "; ".join(decoder.missing_dependencies)
            raise UnsupportedMedia(f"{name}: transfer syntax {syntax.name} ({syntax}) cannot be decoded with the installed "
                                   f"handlers (any of: {needs})")
    try:
        stored = ds.pixel_array
    except Exception as exc:
        raise InvalidInput(f"{name}: DICOM pixel data ({syntax.name}) cannot be decoded: {str(exc).splitlines()[0]}") from None
    try:
        pixels = display_pixels(ds, stored)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc}") from None
    except (ValueError, TypeError, KeyError, AttributeError, IndexError) as exc:  # pydicom's LUT code on inconsistent headers
        raise InvalidInput(f"{name}: the DICOM display attributes cannot be applied ({type(exc).__name__}: {exc})") from None
    return Decoded(pixels, "DICOM", metadata(ds), patient_id=str(ds.PatientID) or None)


def dicom_pixels(data: bytes) -> int | None:
    """Pixels a DICOM declares (Rows x Columns x NumberOfFrames x SamplesPerPixel), read without its pixel data."""
    if not is_dicom(data):
        return None
    import pydicom

    try:
        ds = pydicom.dcmread(io.BytesIO(data), stop_before_pixels=True)
        return (int(ds.get("Rows", 0) or 0) * int(ds.get("Columns", 0) or 0) * int(ds.get("NumberOfFrames", 1) or 1)
                * int(ds.get("SamplesPerPixel", 1) or 1))
    except Exception:  # noqa: BLE001 - a damaged header: decoding it says what is wrong
        return None


decode_dicom.format_name = "DICOM"  # type: ignore[attr-defined]
decode_dicom.pixels = dicom_pixels  # type: ignore[attr-defined]
