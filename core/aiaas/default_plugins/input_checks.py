"""The core's input checks, offered to every task of their modality."""

from __future__ import annotations

from aiaas import hookimpl
from aiaas.records import InputCheck


@hookimpl
def register_input_checks() -> list[InputCheck]:
    return [
        InputCheck(name="value-range", modality="tabular", impl="aiaas.novelty.tabular:ValueRange",
                   description="numbers outside the training range, in units of the training spread"),
        InputCheck(name="unseen-categories", modality="tabular", impl="aiaas.novelty.tabular:UnseenCategories",
                   description="categories training never saw"),
        InputCheck(name="feature-distance", modality="tabular", impl="aiaas.novelty.tabular:FeatureDistance",
                   description="Mahalanobis distance on the model's numeric inputs (shrunk covariance)"),
        InputCheck(name="known-words", modality="text", impl="aiaas.novelty.text:KnownWords",
                   description="share of words the training texts had; a text with no words is flagged"),
        InputCheck(name="language", modality="text", impl="aiaas.novelty.text:Language",
                   description="a language the training texts were not in (py3langid)"),
        InputCheck(name="colour", modality="image", impl="aiaas.novelty.image:Colour",
                   description="a colour image for a model trained on grayscale images"),
        InputCheck(name="pixel-statistics", modality="image", impl="aiaas.novelty.image:PixelStatistics",
                   description="Mahalanobis distance on thumbnail, histogram, edge and noise statistics"),
        InputCheck(name="embedding-distance", modality="image", impl="aiaas.novelty.image:EmbeddingDistance",
                   description="class-conditional Mahalanobis distance in the model's own features (runtimes that give them)"),
        InputCheck(name="history-shape", modality="sequence", impl="aiaas.novelty.sequence:HistoryShape",
                   description="histories far from training in length or in the rate of 0/1 outcomes"),
    ]
