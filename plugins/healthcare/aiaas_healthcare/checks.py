"""What only a radiology vertical knows: a chest radiograph model answers chest
radiographs. A DICOM file says what it is (``Modality``, ``BodyPartExamined``); a CT
slice, an MR image or a radiograph of a knee is refused by name, whatever its pixels
look like. PNG and JPEG files carry no such header and pass to the pixel checks."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas import State
from aiaas import Scores

if TYPE_CHECKING:
    from aiaas import Sample

RADIOGRAPHS = ("CR", "DX", "DR", "RG")
"""Computed, digital and (retired) digital radiography, and radiographic imaging."""
CHEST = ("CHEST", "THORAX", "LUNG", "PORT CHEST")


def _metadata(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


class RadiographOnly:
    floor = 1.0

    def fit(self, sample: Sample) -> State:
        """Modalities and body parts of the training files join the accepted ones (a team
        training on its own DICOMs teaches what they are)."""
        found = [_metadata(m) for m in sample.records.get("metadata", [])]
        modalities = sorted({*RADIOGRAPHS, *(str(m["Modality"]).upper() for m in found if m.get("Modality"))})
        parts = sorted({*CHEST, *(str(m["BodyPartExamined"]).upper() for m in found if m.get("BodyPartExamined"))})
        return State({"modalities": modalities, "body_parts": parts})

    def score(self, sample: Sample, state: State) -> Scores:
        modalities, parts = set(state.meta["modalities"]), set(state.meta["body_parts"])
        records = sample.records
        found = [_metadata(m) for m in records["metadata"]] if "metadata" in records else [{}] * len(records)
        why: list[str] = []
        for m in found:
            modality, part = str(m.get("Modality") or "").upper(), str(m.get("BodyPartExamined") or "").upper()
            if modality and modality not in modalities:
                why.append(f"modality {modality}, expected {'/'.join(RADIOGRAPHS[:3])} (a chest radiograph)")
            elif part and part not in parts:
                why.append(f"body part {part}, expected {'/'.join(CHEST[:2])}")
            else:
                why.append("")
        definite = np.array([bool(w) for w in why])
        return Scores(definite.astype("float64"), lambda i: why[i], definite)
