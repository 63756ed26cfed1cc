"""The healthcare answer: findings with probabilities, the decision at the operating
point, the Grad-CAM heatmap, de-identified metadata and the use notice."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

NOTICE = ("Research use only; not for diagnostic use. This output is not a medical device and does not replace "
          "a qualified clinician's reading of the image.")


class Finding(BaseModel):
    label: str
    probability: float = Field(ge=0, le=1, description="calibrated probability of this finding")
    present: bool = Field(description="whether the finding is called at the operating point")


class OperatingPoint(BaseModel):
    threshold: float = Field(description="probability from which the positive finding is called")
    target_sensitivity: float | None = Field(default=None, description="the sensitivity the threshold was chosen for")
    validation_sensitivity: float | None = Field(default=None, description="sensitivity reached on validation data")
    validation_specificity: float | None = Field(default=None, description="specificity reached on validation data")


class Heatmap(BaseModel):
    label: str = Field(description="the label the map explains")
    png_base64: str = Field(description="grayscale PNG, the input image's size; brighter = more evidence")
    width: int
    height: int
    peak: dict[str, int] = Field(description="pixel (x, y) of the strongest evidence")
    area_over_half: float = Field(description="share of the image at half the peak or more")


class ImageFindings(BaseModel):
    filename: str
    decision: str = Field(description="the label called at the operating point")
    probabilities: dict[str, float] = Field(description="probability of each label")
    findings: list[Finding]
    operating_point: OperatingPoint | None = None
    heatmap: Heatmap | None = Field(default=None, description="Grad-CAM; left out of offline scoring")
    metadata: dict[str, Any] | None = Field(default=None, description="de-identified DICOM attributes, when the input was DICOM")
    notice: str = NOTICE
