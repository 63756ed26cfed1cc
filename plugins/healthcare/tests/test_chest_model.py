"""The models: quality on sample data, patient-grouped splits, ResNet sizing, fine-tuning from a file."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from aiaas import ModelSpec
from aiaas.plugins import get_host
from aiaas.registry import Registry
from aiaas.training import TrainRequest, train
from aiaas_healthcare.simulator import write_sample

from .conftest import TASK, Trained


def test_small_cnn_learns_the_opacities(trained: Trained) -> None:
    metrics = trained["cnn"].metrics
    assert metrics["roc_auc"] > 0.9, metrics
    assert metrics["balanced_accuracy"] > 0.75, metrics
    report = trained["cnn"].report
    assert report.is_file() and "ROC-AUC" in report.read_text() and "<img" in report.read_text()
    assert (report.parent / "heatmaps.png").stat().st_size > 5000  # test images with their Grad-CAM maps


def test_the_report_compares_the_model_with_a_linear_model_on_pixels(trained: Trained) -> None:
    floor = trained["cnn"].floor
    assert floor["floor_architecture"] == "pixels-linear (classical)" and 0.4 < floor["floor"] < 1
    assert floor["beats"] is (floor["model"] > floor["floor"])
    assert "against" in trained["cnn"].report.read_text() and "pixels-linear" in trained["cnn"].report.read_text()


def test_operating_point_is_chosen_for_95_percent_sensitivity(trained: Trained) -> None:
    manifest = json.loads((trained.registry.folder(trained["cnn"].version) / "manifest.json").read_text())
    assert manifest["operating_point"]["policy"] == "sensitivity" and manifest["operating_point"]["target"] == 0.95
    assert manifest["operating_point"]["validation"]["recall"] >= 0.95


def test_patients_stay_in_one_split(trained: Trained) -> None:
    import pandas as pd

    from aiaas.dataset import LoadOptions
    from aiaas.labels import encode
    from aiaas.splits import split
    from aiaas_healthcare.adapters import load_manifest

    host = trained.host
    task = host.task(TASK)
    data = load_manifest(trained.data / "manifest.csv", LoadOptions(label="label"))
    parts = split(data.records, encode(host.label_schema(task), data.labels, "label"), task.split, seed=0)
    patients = data.records["patient_id"]
    sets = [set(patients.iloc[ix]) for ix in (parts.train, parts.validation, parts.test)]
    assert not (sets[0] & sets[1]) and not (sets[0] & sets[2]) and not (sets[1] & sets[2])
    assert parts.description.startswith("by group ('patient_id')") and len(pd.unique(patients)) < len(patients)


@pytest.mark.parametrize("size, stride, pool", [(28, 1, False), (64, 2, False), (224, 2, True)])
def test_resnet_stem_follows_the_input_size(size: int, stride: int, pool: bool) -> None:
    import torch

    from aiaas_healthcare.models.resnet import resnet18

    model = resnet18(ModelSpec(inputs={"image": (3, size, size)}, outputs=1, kind="binary"), {})
    assert model.net.conv1.stride == (stride, stride)
    assert isinstance(model.net.maxpool, torch.nn.MaxPool2d) == pool
    model.eval()
    features = {}
    model.cam_layer.register_forward_hook(lambda _m, _i, out: features.setdefault("map", out))
    assert model({"image": torch.zeros(2, 3, size, size)}).shape == (2, 1)
    assert min(features["map"].shape[-2:]) >= 4  # room for a Grad-CAM map


def test_augmentation_changes_training_batches_only() -> None:
    import torch

    from aiaas_healthcare.models.common import Augment

    augment, x = Augment(), torch.rand(4, 3, 16, 16)
    augment.train()
    assert not torch.equal(augment(x), x)
    augment.eval()
    assert torch.equal(augment(x), x)


@pytest.mark.slow
def test_resnet18_fine_tunes_from_a_local_weights_file(aiaas_home: Path, tmp_path: Path) -> None:
    import torch
    from safetensors.torch import save_file
    from torchvision.models import resnet18

    imagenet_like = resnet18(weights=None)  # the shape of torchvision's ImageNet checkpoint, nothing downloaded
    with torch.no_grad():
        imagenet_like.layer1[0].conv1.weight.fill_(0.01)
    weights = tmp_path / "resnet18.safetensors"
    save_file({k: v.contiguous() for k, v in imagenet_like.state_dict().items()}, str(weights))
    data = write_sample(tmp_path / "scans", 90, seed=1, size=28)
    result = train(get_host(), Registry.from_settings(), TrainRequest(TASK, data, epochs=1, weights=weights), quiet=True)
    manifest = json.loads((Registry.from_settings().folder(result.version) / "manifest.json").read_text())
    loaded = manifest["initial_weights"]
    assert manifest["architecture"] == "resnet18" and loaded["loaded"] > 50
    assert "net.conv1.weight" in loaded["skipped"] and "net.fc.1.weight" in loaded["skipped"]  # resized stem, new head
    from aiaas.versions import load_version

    pipeline = load_version(get_host(), Registry.from_settings(), TASK, result.version.version)
    assert not np.allclose(pipeline.model.net.layer1[0].conv1.weight.detach().numpy(), 0.01)  # trained on from the file's start
