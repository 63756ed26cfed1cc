"""Reading one medical image from an API instance: DICOM first, then PNG or JPEG."""

from __future__ import annotations

from typing import Any

from aiaas.vision import decode_instance as decode_plain
from aiaas.vision import ImageInstance
from aiaas_healthcare.dicom import decode_dicom


def decode_instance(instance: ImageInstance) -> dict[str, Any]:
    """The task's ``decode``: one API instance -> its image record."""
    return decode_plain(instance, (decode_dicom,))
