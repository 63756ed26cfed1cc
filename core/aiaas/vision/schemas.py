"""The API instance of an image task: one image, as base64 in JSON or as a file part
of a ``multipart/form-data`` upload (the task's ``upload_field`` is ``"image"``)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema


BASE64 = r"^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"


def _bytes(value: Any) -> Any:
    """JSON carries base64 text; an upload already carries the bytes."""
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("image is not valid base64") from None
    return value


ImageBytes = Annotated[
    bytes,
    BeforeValidator(_bytes),
    WithJsonSchema({"type": "string", "contentEncoding": "base64", "minLength": 4, "pattern": BASE64,
                    "description": "the image file's bytes, base64-encoded"}),
]


class ImageInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    image: ImageBytes = Field(description="a PNG or JPEG file (and DICOM where the task reads it), base64-encoded in JSON")
    filename: str | None = Field(default=None, max_length=255, description="a name for the image, echoed in answers and errors (an uploaded file is named by its position, 'part 0')")
