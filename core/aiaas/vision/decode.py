"""Image bytes -> pixels, for files and uploads alike, under the operator's limits.

The core reads PNG and JPEG (Pillow). A vertical adds formats by passing
``decoders``: each looks at the bytes and returns ``None`` when they are not its
format (the healthcare plugin reads DICOM this way). Every failure is an
``InvalidInput`` that names the file and the reason: 415 for a type no decoder
reads, 413 for an image over ``AIAAS_MAX_IMAGE_PIXELS``, 422 for a corrupt file.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from aiaas.errors import InvalidInput, TooLarge, UnsupportedMedia

FORMATS = ("PNG", "JPEG")


@dataclass
class Decoded:
    """``pixels``: uint8, (height, width) for grayscale or (height, width, 3) for RGB.
    ``metadata``: what the format carries about the image, safe to store and echo
    (a decoder that reads identifying metadata must de-identify it first).
    ``patient_id``: a pseudonymous patient (or other group) id, when the file has one."""

    pixels: np.ndarray
    format: str
    metadata: dict[str, Any] = field(default_factory=dict)
    patient_id: str | None = None


Decoder = Callable[[bytes, str, int], "Decoded | None"]
"""(data, name, max_pixels) -> Decoded, or None when the bytes are not this decoder's format.
A ``format_name`` attribute names the format in refusals ("send PNG, JPEG or DICOM"); a ``pixels``
attribute, ``pixels(data) -> int | None``, reads the pixel count from the format's header."""


def max_pixels() -> int:
    from aiaas.settings import get_settings

    return get_settings().max_image_pixels


def check_pixels(name: str, count: int, limit: int) -> None:
    if count > limit:
        raise TooLarge(f"{name}: image of {count:,} pixels is over the limit of {limit:,} (AIAAS_MAX_IMAGE_PIXELS)")


def to_uint8(values: np.ndarray) -> np.ndarray:
    """Stretch any numeric image to 0-255 (16-bit PNGs, floats)."""
    if values.dtype == np.uint8:
        return values
    values = values.astype("float64")
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return np.round(scaled * 255).astype(np.uint8)


def decode_pillow(data: bytes, name: str, limit: int, accepted: Sequence[str] = FORMATS) -> Decoded:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in FORMATS:
                raise UnsupportedMedia(f"{name}: {image.format} images are not accepted; send {', '.join(accepted)}")
            check_pixels(name, image.width * image.height, limit)
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
                pixels = to_uint8(np.asarray(image))
            elif image.mode in ("L", "1", "LA", "P") and _is_gray(image):
                pixels = np.asarray(image.convert("L"))
            else:
                pixels = np.asarray(image.convert("RGB"))
            return Decoded(np.ascontiguousarray(pixels), image.format)
    except UnidentifiedImageError:
        raise UnsupportedMedia(f"{name}: not an image of an accepted type ({', '.join(accepted)})") from None
    except Image.DecompressionBombError as exc:  # Pillow's own guard, which fires while opening
        raise TooLarge(f"{name}: image is over the limit of {limit:,} pixels (AIAAS_MAX_IMAGE_PIXELS): {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InvalidInput(f"{name}: corrupt or truncated image: {exc}") from None


def _is_gray(image: Any) -> bool:
    if image.mode != "P":
        return True
    palette = np.asarray(image.getpalette() or [0, 0, 0]).reshape(-1, 3)
    return bool((palette[:, 0] == palette[:, 1]).all() and (palette[:, 1] == palette[:, 2]).all())


def decode_image(data: bytes, name: str, decoders: Sequence[Decoder] = (), limit: int | None = None) -> Decoded:
    """Pixels of one image file; ``decoders`` are tried before PNG and JPEG."""
    if not data:
        raise InvalidInput(f"{name}: the file is empty")
    limit = max_pixels() if limit is None else limit
    for decoder in decoders:
        decoded = decoder(data, name, limit)
        if decoded is not None:
            return decoded
    accepted = [*FORMATS, *(getattr(d, "format_name", getattr(d, "__name__", "another format")) for d in decoders)]
    return decode_pillow(data, name, limit, accepted)


def header_pixels(data: bytes, decoders: Sequence[Decoder] = ()) -> int | None:
    """Pixels an image file declares in its header (width x height x frames), read without decoding it;
    None when no reader knows the format (its decoder refuses it later). A decoder that reads another
    format offers its own header reader as its ``pixels`` attribute."""
    for decoder in decoders:
        reader = getattr(decoder, "pixels", None)
        counted = reader(data) if reader is not None else None
        if counted is not None:
            return counted
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as image:  # lazy: Pillow reads the header, not the pixels
            return int(image.width) * int(image.height) * int(getattr(image, "n_frames", 1) or 1)
    except Exception:  # noqa: BLE001 - not an image Pillow knows: the decoder says so, with the reason
        return None


def encode_png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG", optimize=False)
    return buffer.getvalue()
