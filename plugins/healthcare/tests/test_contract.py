"""The plugin contract every aiaas plugin passes (aiaas.testing.PluginContract)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from aiaas import DataAdapter
from aiaas.testing import PluginContract, TrainedModels


class TestHealthcarePlugin(PluginContract):
    plugin = "healthcare"
    sample_rows = 80
    sample_options = {"size": 32}  # small images: every architecture trains one epoch in seconds

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls, trained: TrainedModels) -> TrainedModels:
        return trained  # the models this plugin's own tests train

    def adapter_sample(self, adapter: DataAdapter, sample: Path) -> Path | None:
        if adapter.name == "healthcare.manifest":
            return sample / "manifest.csv"
        if adapter.name == "healthcare.npz":  # the MedMNIST layout: <split>_images, <split>_labels
            from PIL import Image

            files = sorted(sample.glob("*/*.png"))
            images = np.stack([np.asarray(Image.open(f).convert("L")) for f in files])
            labels = np.array([[int(f.parent.name == "pneumonia")] for f in files])
            np.savez(sample / "sample.npz", train_images=images, train_labels=labels)
            return sample / "sample.npz"
        return super().adapter_sample(adapter, sample)
