"""The healthcare adapters: the core's image data sets (folder, manifest, .npz) with
DICOM added to PNG and JPEG. DICOM files are ``.dcm``/``.dicom`` or have no suffix and
carry the DICOM preamble; their headers are de-identified as they are read, and their
(pseudonymised) patient ids group the split."""

from __future__ import annotations

from aiaas.vision import ImageFiles, load_npz
from aiaas_healthcare.dicom import decode_dicom, is_dicom

MEDICAL = ImageFiles(suffixes=(".png", ".jpg", ".jpeg", ".dcm", ".dicom"), decoders=(decode_dicom,), sniff=is_dicom)

load_folder = MEDICAL.folder
load_manifest = MEDICAL.manifest
stream_folder = MEDICAL.folder_stream
stream_manifest = MEDICAL.manifest_stream
__all__ = ["load_folder", "load_manifest", "load_npz", "stream_folder", "stream_manifest"]
