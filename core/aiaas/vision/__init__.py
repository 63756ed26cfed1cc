"""What any image task shares: decoding files and uploads under limits, the API
instance, the ``image`` preprocessor, and the record an image becomes.

An image record is a row with ``image`` (uint8 pixels), ``path`` (the file or
upload name), ``width``, ``height``, ``patient_id`` (or None) and ``metadata``
(a dict that is safe to store and echo).
"""

from __future__ import annotations

from typing import Any

from aiaas.vision.decode import Decoded


def image_record(decoded: Decoded, path: str) -> dict[str, Any]:
    height, width = decoded.pixels.shape[:2]
    return {"path": path, "image": decoded.pixels, "width": int(width), "height": int(height),
            "patient_id": decoded.patient_id, "metadata": decoded.metadata or None}
