"""Reading one medical image from an API instance: DICOM first, then PNG or JPEG."""

from __future__ import annotations

from typing import Any

from aiaas import InvalidInput
from aiaas.vision import image_record
from aiaas.vision.decode import decode_image
from aiaas.vision.schemas import ImageInstance
from aiaas_healthcare.dicom import decode_dicom


def decode_instance(instance: ImageInstance) -> dict[str, Any]:
    """The task's ``decode``: one API instance -> its image record."""
    name = instance.filename or "image"
    try:
        return image_record(decode_image(instance.image, name, (decode_dicom,)), name)
    except InvalidInput as exc:
        raise type(exc)(str(exc), ("image",)) from None
