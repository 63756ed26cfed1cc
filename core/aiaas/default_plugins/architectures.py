"""Architectures the core offers to every task of a modality: classical floors and
candidates (gradient-boosted trees, TF-IDF with a linear model, a linear model on
pixels) and a general tabular MLP on both runtimes, so a third-party tabular task
needs no model code of its own."""

from __future__ import annotations

from aiaas import hookimpl
from aiaas.records import ANY_TASK, Architecture

MLP = {"hidden": [64, 32], "dropout": 0.2, "epochs": 30, "batch_size": 256, "learning_rate": 1e-3, "weight_decay": 1e-4,
       "patience": 6}


@hookimpl
def register_architectures() -> list[Architecture]:
    return [
        Architecture(name="gbdt", task=ANY_TASK, modality="tabular", runtime="classical", floor=True,
                     builder="aiaas.classical.gbdt:build",
                     description="gradient-boosted trees (LightGBM): class weights, early stopping on validation, "
                                 "exact TreeSHAP reasons; saved in LightGBM's text format"),
        Architecture(name="logistic", task=ANY_TASK, modality="tabular", runtime="classical", builder="aiaas.classical.logistic:build",
                     description="regularised logistic regression on the encoded columns (class-balanced, strength chosen on "
                                 "validation): the plain baseline small tables are often best served by; exact reasons"),
        Architecture(name="ensemble", task=ANY_TASK, modality="tabular", runtime="classical", builder="aiaas.classical.ensemble:build",
                     assembled=True,
                     description="a weighted average of the other candidates' calibrated probabilities, the weights chosen by "
                                 "greedy ensemble selection on out-of-fold predictions; built by --arch auto on small data "
                                 "and served when it beats the best single candidate"),
        Architecture(name="mlp", task=ANY_TASK, modality="tabular", runtime="torch", builder="aiaas.models.mlp_torch:build",
                     params=MLP, description="MLP with dropout and weight decay (PyTorch)"),
        Architecture(name="mlp", task=ANY_TASK, modality="tabular", runtime="tensorflow", builder="aiaas.models.mlp_keras:build",
                     params=MLP, description="MLP with dropout and weight decay (Keras)"),
        Architecture(name="tfidf-linear", task=ANY_TASK, modality="text", runtime="classical", floor=True,
                     builder="aiaas.classical.tfidf:build", preprocessor="text-documents",
                     description="TF-IDF over words, word pairs and character n-grams with class-balanced logistic "
                                 "regression; exact word weights"),
        Architecture(name="pixels-linear", task=ANY_TASK, modality="image", runtime="classical", floor=True,
                     builder="aiaas.classical.pixels:build",
                     description="logistic regression on grayscale pixels downsampled to 16x16: the floor an image model must beat"),
    ]
