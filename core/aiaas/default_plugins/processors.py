"""Processors any task can name: the general table preprocessor ``tabular``, the
``image`` preprocessor, and the ``classification`` answer (label and probabilities)."""

from __future__ import annotations

from aiaas import hookimpl
from aiaas.records import Postprocessor, Preprocessor


@hookimpl
def register_processors() -> list[Preprocessor | Postprocessor]:
    return [
        Preprocessor(
            name="tabular",
            impl="aiaas.tabular:TabularPreprocessor",
            description="Infers numeric, skewed (log), boolean, categorical, date-time and identifier "
            "columns on the training split; the served schema is the trained one.",
        ),
        Preprocessor(
            name="image",
            impl="aiaas.vision.preprocess:ImagePreprocessor",
            description="Resizes to a side fitted on the training split (or --option image_size=N), repeats "
            "grayscale into 3 channels, normalises per channel.",
        ),
        Preprocessor(
            name="text-vocab",
            impl="aiaas.text.vocabulary:VocabularyPreprocessor",
            description="Words -> ids from a vocabulary fitted on the training split (JSON), truncated or padded "
            "to max_length (--option max_length=N).",
        ),
        Preprocessor(
            name="text-documents",
            impl="aiaas.text.whole:DocumentPreprocessor",
            description="Each record's title and text as one cleaned string, for models that read text whole (TF-IDF).",
        ),
        Postprocessor(
            name="classification",
            impl="aiaas.answers:ClassificationAnswer",
            description="The label (binary: at the operating threshold) and a probability per label.",
        ),
    ]
