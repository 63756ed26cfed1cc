"""The healthcare vertical's registrations. Everything heavy is named by import path."""

from __future__ import annotations

import aiaas
from aiaas import (
    Architecture,
    DataAdapter,
    InputCheck,
    Label,
    LabelSchema,
    OperatingPolicy,
    Postprocessor,
    Quickstart,
    SplitPolicy,
    Task,
)

AIAAS_API = ">=1.1,<2"  # the hook API versions this plugin is built for

CHEST_XRAY = "healthcare/chest-xray"
FIT = {"epochs": 15, "batch_size": 64, "learning_rate": 1e-3, "weight_decay": 1e-4, "patience": 4, "dropout": 0.2}


@aiaas.hookimpl
def register_label_schemas() -> list[LabelSchema]:
    return [
        LabelSchema(
            name="healthcare.chest-xray",
            kind="binary",
            labels=(Label("normal", "no pneumonia seen"), Label("pneumonia", "opacities consistent with pneumonia")),
            positive="pneumonia",
        )
    ]


@aiaas.hookimpl
def register_tasks() -> list[Task]:
    return [
        Task(
            name=CHEST_XRAY,
            modality="image",
            labels="healthcare.chest-xray",
            input_model="aiaas.vision:ImageInstance",
            output_model="aiaas_healthcare.schemas:ImageFindings",
            preprocessor="image",
            postprocessor="healthcare.findings",
            default_adapter="healthcare.image-folder",
            default_architecture="resnet18",
            explainer="grad-cam",
            metrics=("roc_auc", "sensitivity", "specificity", "balanced_accuracy", "average_precision", "calibration_error", "brier"),
            split=SplitPolicy(kind="group", columns=("patient_id",)),
            operating_point=OperatingPolicy("sensitivity", 0.95),
            sample="aiaas_healthcare.simulator:write_sample",
            decode="aiaas_healthcare.images:decode_instance", measure="aiaas_healthcare.images:measure_instance",
            upload_field="image",
            quickstart=Quickstart(rows=600, epochs=6),
            log_inputs=False, log_omit=("heatmap", "metadata", "filename"),  # the prediction log keeps no pixels or patient data
            refuse_unfamiliar=("healthcare.radiograph-only",),  # a CT slice gets a 422, not a pneumonia probability
            description="Chest radiograph, normal or pneumonia: probability, the call at a 95%-sensitivity operating "
            "point, a Grad-CAM heatmap. Not for diagnostic use.",
        )
    ]


@aiaas.hookimpl
def register_data_adapters() -> list[DataAdapter]:
    return [
        DataAdapter(name="healthcare.image-folder", task=CHEST_XRAY, load="aiaas_healthcare.adapters:load_folder", suffixes=("/",),
                    stream="aiaas_healthcare.adapters:stream_folder", parts=True,
                    description="root/<label>/<PNG, JPEG or DICOM files>; to score, any folder of images"),
        DataAdapter(name="healthcare.manifest", task=CHEST_XRAY, load="aiaas_healthcare.adapters:load_manifest",
                    stream="aiaas_healthcare.adapters:stream_manifest", parts=True,
                    suffixes=(".csv", ".tsv"), description="CSV with path,label[,patient_id]; paths relative to the CSV"),
        DataAdapter(name="healthcare.npz", task=CHEST_XRAY, load="aiaas.vision:load_npz", suffixes=(".npz",),
                    description="NumPy .npz with <split>_images and <split>_labels (MedMNIST); --option splits=train,val"),
    ]


@aiaas.hookimpl
def register_input_checks() -> list[InputCheck]:
    return [InputCheck(name="healthcare.radiograph-only", task=CHEST_XRAY, impl="aiaas_healthcare.checks:RadiographOnly",
                       description="a DICOM whose Modality is not a radiograph (CR/DX/DR) or whose BodyPartExamined is not the chest")]


@aiaas.hookimpl
def register_processors() -> list[Postprocessor]:
    return [
        Postprocessor(name="healthcare.findings", impl="aiaas_healthcare.answer:FindingsAnswer",
                      description="findings with probabilities, the call at the operating point, Grad-CAM heatmap, notice"),
    ]


@aiaas.hookimpl
def register_architectures() -> list[Architecture]:
    return [
        Architecture(name="resnet18", task=CHEST_XRAY, runtime="torch", builder="aiaas_healthcare.models.resnet:resnet18",
                     params=FIT, description="torchvision ResNet-18, stem sized for the input; --weights to fine-tune"),
        Architecture(name="resnet50", task=CHEST_XRAY, runtime="torch", builder="aiaas_healthcare.models.resnet:resnet50",
                     params={**FIT, "batch_size": 32}, description="torchvision ResNet-50, stem sized for the input; --weights to fine-tune"),
        Architecture(name="small-cnn", task=CHEST_XRAY, runtime="torch", builder="aiaas_healthcare.models.small_cnn:build",
                     params={**FIT, "epochs": 25, "patience": 6}, description="three conv blocks, ~100k parameters, for tiny images"),
    ]
