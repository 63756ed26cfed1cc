"""What any image task shares: decoding files and uploads under limits, the API
instance, the ``image`` preprocessor, and the record an image becomes.

An image record is a row with ``image`` (uint8 pixels), ``path`` (the file or
upload name), ``width``, ``height``, ``patient_id`` (a group id, or None) and
``metadata`` (a dict that is safe to store and echo, or None).

A task built from these names ``aiaas.vision:ImageInstance`` as its input
model, ``aiaas.vision:decode_instance`` as its ``decode`` (and ``aiaas.vision:instance_pixels``
as its ``measure``), ``"image"`` as its
preprocessor and ``upload_field``, and ``grad-cam`` as its explainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from aiaas.errors import InvalidInput
from aiaas.vision.decode import Decoded, Decoder, check_pixels, decode_image, header_pixels, to_uint8
from aiaas.vision.schemas import ImageInstance

if TYPE_CHECKING:
    from aiaas.vision.datasets import ImageFiles, load_npz, load_plain_folder

__all__ = ["Decoded", "Decoder", "ImageFiles", "ImageInstance", "check_pixels", "decode_image", "decode_instance", "image_record", "instance_pixels",
           "load_npz", "load_plain_folder", "to_uint8"]


def __getattr__(name: str) -> Any:
    if name in ("ImageFiles", "load_npz", "load_plain_folder"):  # they need pandas; an image plugin's entry module must not
        from aiaas.vision import datasets

        return getattr(datasets, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def image_record(decoded: Decoded, path: str) -> dict[str, Any]:
    height, width = decoded.pixels.shape[:2]
    return {"path": path, "image": decoded.pixels, "width": int(width), "height": int(height),
            "patient_id": decoded.patient_id, "metadata": decoded.metadata or None}


def decode_instance(instance: ImageInstance, decoders: Sequence[Decoder] = ()) -> dict[str, Any]:
    """A task's ``decode`` for image instances (PNG and JPEG, plus ``decoders``)."""
    name = instance.filename or "image"
    try:
        return image_record(decode_image(instance.image, name, decoders), name)
    except InvalidInput as exc:
        raise type(exc)(str(exc), ("image",)) from None


def instance_pixels(instance: ImageInstance, decoders: Sequence[Decoder] = ()) -> int | None:
    """A task's ``measure`` for image instances: the pixels its file declares, before decoding."""
    return header_pixels(instance.image, decoders)
