"""Reading one medical image from an API instance: DICOM first, then PNG or JPEG."""

from __future__ import annotations

from typing import Any

from aiaas.vision import decode_instance as decode_plain
from aiaas.vision import ImageInstance, instance_pixels
from aiaas_healthcare.dicom import decode_dicom


def decode_instance(instance: ImageInstance) -> dict[str, Any]:
    """The task's ``decode``: one API instance -> its image record."""
    return decode_plain(instance, (decode_dicom,))


def measure_instance(instance: ImageInstance) -> int | None:
    """The task's ``measure``: the pixels an upload declares (a DICOM's Rows x Columns x frames), before decoding."""
    return instance_pixels(instance, (decode_dicom,))
