"""Reading one medical image, from a file or an API instance: DICOM first, then PNG/JPEG."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiaas import InvalidInput
from aiaas.vision import image_record
from aiaas.vision.decode import Decoded, accept_format, decode_image
from aiaas.vision.schemas import ImageInstance
from aiaas_healthcare.dicom import decode_dicom

accept_format("DICOM")
SUFFIXES = (".png", ".jpg", ".jpeg", ".dcm", ".dicom")


def decode(data: bytes, name: str) -> Decoded:
    return decode_image(data, name, decoders=(decode_dicom,))


def read_file(path: Path) -> Decoded:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot be read ({exc.strerror})") from None
    return decode(data, str(path))


def decode_instance(instance: ImageInstance) -> dict[str, Any]:
    """The task's ``decode``: one API instance -> its image record."""
    name = instance.filename or "image"
    try:
        return image_record(decode(instance.image, name), name)
    except InvalidInput as exc:
        raise type(exc)(str(exc), ("image",)) from None
