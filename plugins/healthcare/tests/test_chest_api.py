"""The chest-xray HTTP API: JSON and multipart uploads, heatmaps, limits, and no PHI out."""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pydicom.data import get_testdata_file

from aiaas.serving.app import create_app
from aiaas.settings import Settings, get_settings

from .conftest import Trained

PREDICT, EXPLAIN = "/v1/healthcare/chest-xray/predict", "/v1/healthcare/chest-xray/explain"
CT_NAME = "CompressedSamples^CT1"


def _png(trained: Trained, label: str = "pneumonia", index: int = 0) -> bytes:
    return sorted((trained.data / label).glob("*.png"))[index].read_bytes()


def _jpeg(width: int, height: int) -> bytes:
    pixels = (np.random.default_rng(0).random((height, width)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def _dicom(name: str, **attributes: str) -> bytes:
    """A pydicom test file, with header attributes changed (a radiograph's Modality)."""
    import pydicom

    ds = pydicom.dcmread(get_testdata_file(name))
    for keyword, value in attributes.items():
        setattr(ds, keyword, value)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def _heatmap(answer: dict) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(answer["heatmap"]["png_base64"]))))


def test_json_instances_get_findings_decision_heatmap_and_notice(trained: Trained) -> None:
    body = {"instances": [{"image": base64.b64encode(_png(trained, "pneumonia", i)).decode(), "filename": f"p{i}.png"} for i in range(3)]
                         + [{"image": base64.b64encode(_png(trained, "normal", i)).decode()} for i in range(3)]}
    response = trained.client().post(PREDICT, json=body)
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    assert [a["filename"] for a in answers[:3]] == ["p0.png", "p1.png", "p2.png"]
    for a in answers:
        assert set(a["probabilities"]) == {"normal", "pneumonia"} and abs(sum(a["probabilities"].values()) - 1) < 1e-5
        assert a["decision"] == ("pneumonia" if a["probabilities"]["pneumonia"] >= a["operating_point"]["threshold"] else "normal")
        assert a["findings"][0]["label"] == "pneumonia" and a["operating_point"]["target_sensitivity"] == 0.95
        assert "not for diagnostic use" in a["notice"]
        assert _heatmap(a).shape == (32, 32)
    positive = np.mean([a["probabilities"]["pneumonia"] for a in answers[:3]])
    negative = np.mean([a["probabilities"]["pneumonia"] for a in answers[3:]])
    assert positive > negative


def test_multipart_upload_of_png_jpeg_and_dicom_in_one_request(trained: Trained) -> None:
    files = [
        ("files", ("chest.png", _png(trained), "image/png")),
        ("files", ("wide.jpg", _jpeg(80, 50), "image/jpeg")),
        ("files", ("DOE_JOHN_MRN-12345.dcm", _dicom("MR_small.dcm", Modality="DX", BodyPartExamined="CHEST"), "application/dicom")),
    ]
    response = trained.client().post(PREDICT, files=files)
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    assert [a["filename"] for a in answers] == ["part 0", "part 1", "part 2"]  # positions: a file's name may name the patient
    assert "DOE" not in response.text and "12345" not in response.text
    assert _heatmap(answers[1]).shape == (50, 80)  # the input's own height and width
    assert _heatmap(answers[2]).shape == (64, 64)
    assert answers[2]["metadata"]["Modality"] == "DX" and answers[2]["metadata"]["PatientIdentityRemoved"] == "YES"
    assert answers[0]["metadata"] is None
    assert answers[0]["input_check"]["in_distribution"] is True
    assert answers[1]["input_check"]["in_distribution"] is False  # random noise in a JPEG
    assert all(set(a["input_check"]) == {"in_distribution", "novelty", "threshold", "reasons"} for a in answers)


@pytest.mark.parametrize(("name", "data", "reason"), [
    ("mr.dcm", lambda: Path(get_testdata_file("MR_small.dcm")).read_bytes(), "modality MR, expected CR/DX/DR"),
    ("ct.dcm", lambda: Path(get_testdata_file("CT_small.dcm")).read_bytes(), "modality CT, expected CR/DX/DR"),
    ("spine.dcm", lambda: _dicom("MR_small.dcm", Modality="CR", BodyPartExamined="CSPINE"), "body part CSPINE, expected CHEST"),
])
def test_a_dicom_that_is_not_a_chest_radiograph_is_refused_naming_why(trained: Trained, name: str, data, reason: str) -> None:  # noqa: ANN001
    client = trained.client()
    files = [("files", ("chest.png", _png(trained), "image/png")), ("files", (name, data(), "application/dicom"))]
    response = client.post(PREDICT, files=files)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"] == ["body", "instances", 1] and reason in error["msg"]
    metrics = client.get("/metrics").text
    assert 'aiaas_flagged_inputs_total{action="refused",task="healthcare/chest-xray"' in metrics
    explained = client.post(EXPLAIN, files=files)  # what the task does not answer, it does not explain either
    assert explained.status_code == 422 and reason in explained.json()["detail"][0]["msg"]


def test_flagged_images_are_answered_with_the_reason(trained: Trained) -> None:
    colour = (np.random.default_rng(1).random((40, 40, 3)) * 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(colour).save(buffer, format="PNG")
    files = [("files", ("chest.png", _png(trained), "image/png")), ("files", ("photo.png", buffer.getvalue(), "image/png"))]
    response = trained.client().post(PREDICT, files=files)
    assert response.status_code == 200, response.text
    ordinary, photo = (a["input_check"] for a in response.json()["predictions"])
    assert ordinary["in_distribution"] and not ordinary["reasons"]
    assert not photo["in_distribution"] and photo["novelty"] > photo["threshold"]
    assert "a colour image; the model was trained on grayscale images" in photo["reasons"]


def test_explain_answers_the_heatmap(trained: Trained) -> None:
    response = trained.client().post(EXPLAIN, files=[("files", ("wide.jpg", _jpeg(40, 60), "image/jpeg"))])
    assert response.status_code == 200, response.text
    (explanation,) = response.json()["explanations"]
    assert explanation["method"] == "grad-cam" and explanation["label"] == "pneumonia"
    heat = np.asarray(Image.open(io.BytesIO(base64.b64decode(explanation["heatmap"]["png_base64"]))))
    assert heat.shape == (60, 40) and heat.dtype == np.uint8
    peak = explanation["heatmap"]["peak"]
    assert heat[peak["y"], peak["x"]] == heat.max()


def test_bad_files_get_a_4xx_naming_the_file(trained: Trained) -> None:
    """Each refusal names the file by its position in the upload, never by its name (which may name the patient)."""
    client = trained.client()
    png = _png(trained)
    cases = [
        ("truncated.png", png[: len(png) // 2], 422, "part 1: corrupt or truncated"),
        ("notes.txt", b"just some text, not an image", 415, "part 1: not an image of an accepted type (PNG, JPEG, DICOM)"),
        ("anim.gif", _gif(), 415, "part 1: GIF images are not accepted; send PNG, JPEG, DICOM"),
        ("empty.png", b"", 422, "part 1: the file is empty"),
        ("DOE_JOHN_MRN-12345.dcm", Path(get_testdata_file("CT_small.dcm")).read_bytes()[:20000], 422, "part 1: DICOM pixel data"),
    ]
    for name, data, status, message in cases:
        response = client.post(PREDICT, files=[("files", ("ok.png", png, "image/png")), ("files", (name, data, "application/octet-stream"))])
        assert response.status_code == status, (name, response.text)
        detail = response.json()["detail"][0]
        assert message in detail["msg"] and detail["loc"] == ["body", "instances", 1, "image"] and name not in response.text, detail
    jpeg_ls = client.post(PREDICT, files=[("files", ("ls.dcm", Path(get_testdata_file("MR_small_jpeg_ls_lossless.dcm")).read_bytes(), "application/dicom"))])
    if jpeg_ls.status_code != 200:
        assert jpeg_ls.status_code == 415 and "JPEG-LS Lossless Image Compression" in jpeg_ls.json()["detail"][0]["msg"]
    assert client.post(PREDICT, json={"instances": [{"image": "%%%"}]}).status_code == 422
    assert client.post(PREDICT, files={"note": (None, "hello")}).status_code == 422


def _gif() -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="GIF")
    return buffer.getvalue()


def test_limits_on_pixels_body_and_file_count(trained: Trained, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(home=trained.home, max_image_pixels=32 * 32, max_request_bytes=200_000, max_instances=2, alias_ttl_seconds=0)
    monkeypatch.setattr("aiaas.vision.decode.max_pixels", lambda: settings.max_image_pixels)
    client = TestClient(create_app(trained.host, trained.registry, settings))
    too_big = client.post(PREDICT, files=[("files", ("big.jpg", _jpeg(64, 64), "image/jpeg"))])
    assert too_big.status_code == 413 and "part 0" in too_big.json()["detail"][0]["msg"]
    assert client.post(PREDICT, files=[("files", ("ok.png", _png(trained), "image/png"))]).status_code == 200
    body = client.post(PREDICT, files=[("files", ("huge.png", b"\0" * 300_000, "image/png"))])
    assert body.status_code == 413
    many = client.post(PREDICT, files=[("files", (f"{i}.png", _png(trained), "image/png")) for i in range(3)])
    assert many.status_code == 422 and "limit of 2" in many.text


def test_a_patients_name_never_reaches_an_answer_or_a_log(trained: Trained, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = trained.client()
    names = {}
    for name in ("CT_small.dcm", "MR_small.dcm", "dicomdirtests/77654033/CR1/6154"):
        import pydicom

        names[name] = str(pydicom.dcmread(get_testdata_file(name)).PatientName)
    # relabelled as chest radiographs so they are answered (as they are, the task refuses them: also checked below)
    files = [("files", (f"scan{i}.dcm", _dicom(n, Modality="DX", BodyPartExamined="CHEST"), "application/dicom")) for i, n in enumerate(names)]
    responses = [client.post(PREDICT, files=files), client.post(EXPLAIN, files=files), client.get("/v1/tasks")]
    assert all(r.status_code == 200 for r in responses)
    refused = client.post(PREDICT, files=[("files", (f"raw{i}.dcm", Path(get_testdata_file(n)).read_bytes(), "application/dicom"))
                                           for i, n in enumerate(names)])
    assert refused.status_code == 422
    responses.append(refused)
    for answer in responses[0].json()["predictions"]:  # what is echoed is the de-identified header, not merely a selection
        metadata = answer["metadata"]
        assert metadata["PatientID"].startswith("anon-") and metadata["StudyInstanceUID"].startswith("2.25.")
    seen = " ".join(r.text for r in responses) + caplog.text
    for person in names.values():
        for part in person.split("^"):
            assert part not in seen, part
    assert CT_NAME.split("^")[0] not in seen


def test_tasks_document_image_input_and_uploads(trained: Trained) -> None:
    client = trained.client()
    (task,) = [t for t in client.get("/v1/tasks").json() if t["task"] == "healthcare/chest-xray"]
    assert task["modality"] == "image" and task["input_schema"]["properties"]["image"]["contentEncoding"] == "base64"
    content = client.get("/openapi.json").json()["paths"][PREDICT]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= set(content)


def test_the_pixels_of_a_whole_request_are_bounded(trained: Trained) -> None:
    """Many images each under the per-file limit must not add up past the per-request one."""
    from aiaas.testing import isolated_home

    width, height = Image.open(io.BytesIO(_png(trained))).size
    with isolated_home(trained.home, alias_ttl_seconds="0", max_request_pixels=str(2 * width * height)):
        client = TestClient(create_app(trained.host, trained.registry, get_settings()))
        files = [("files", (f"{i}.png", _png(trained, index=i), "image/png")) for i in range(3)]
        response = client.post(PREDICT, files=files)
        assert response.status_code == 413 and "pixels in all" in response.json()["detail"][0]["msg"]
        assert response.json()["detail"][0]["loc"] == ["body", "instances", 2]
        assert client.post(PREDICT, files=files[:2]).status_code == 200


def test_noise_is_far_from_training_in_its_pixels_and_in_the_models_own_features(trained: Trained) -> None:
    import pandas as pd

    from aiaas.novelty.base import Sample
    from aiaas.versions import load_version

    pipeline = load_version(trained.host, trained.registry, "healthcare/chest-xray", None)
    guard = pipeline.guard
    assert {"pixel-statistics", "embedding-distance", "colour", "healthcare.radiograph-only"} == set(guard.detectors)
    rng = np.random.default_rng(3)
    ordinary = pd.DataFrame([{"image": np.asarray(Image.open(io.BytesIO(_png(trained, label, i)))), "path": "x.png"}
                             for label in ("normal", "pneumonia") for i in range(5)])
    noise = pd.DataFrame([{"image": rng.integers(0, 256, (32, 32), dtype=np.uint8), "path": "noise.png"} for _ in range(5)])
    for name in ("pixel-statistics", "embedding-distance"):
        detector, state = guard.detectors[name], guard.states[name]
        usual = detector.score(Sample(ordinary, pipeline), state).values
        odd = detector.score(Sample(noise, pipeline), state).values
        assert odd.min() > usual.max(), name
    finding = pipeline.check(noise)
    assert finding is not None and finding.flagged.all()
    assert all(any("pixel statistics unlike the training images" in r for r in reasons) for reasons in finding.reasons)


def test_a_request_whose_headers_declare_too_many_pixels_is_refused_before_any_image_decodes(trained: Trained, monkeypatch) -> None:  # noqa: ANN001
    """Regression: 30 PNGs of 49 megapixels (1.9 MB in all) were refused only after 4 had decoded (4.7 s, +234 MB)."""
    import pydicom

    import aiaas_healthcare.images

    decoded = []
    real = aiaas_healthcare.images.decode_plain
    monkeypatch.setattr(aiaas_healthcare.images, "decode_plain", lambda *a, **k: decoded.append(1) or real(*a, **k))
    buffer = io.BytesIO()
    Image.new("L", (7000, 7000)).save(buffer, format="PNG")  # 49 megapixels in some 50 KB
    big_png = buffer.getvalue()
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.Rows, ds.Columns = 7000, 7000  # the header declares it; the pixel data need not follow
    buffer = io.BytesIO()
    ds.save_as(buffer)
    big_dicom = buffer.getvalue()
    client = trained.client()
    for data, kind in ((big_png, "image/png"), (big_dicom, "application/dicom")):
        files = [("files", (f"{i}.bin", data, kind)) for i in range(30)]
        response = client.post(PREDICT, files=files)
        assert response.status_code == 413 and "their headers say so" in response.json()["detail"][0]["msg"], response.text
        assert response.json()["detail"][0]["loc"] == ["body", "instances", 4]  # 5 x 49 M passes the 200 M budget
    assert decoded == []
