"""DICOM display pipeline and de-identification, on the real files pydicom ships."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from pydicom.data import get_testdata_file

from aiaas import InvalidInput
from aiaas.errors import TooLarge, UnsupportedMedia
from aiaas.testing import isolated_home
from aiaas_healthcare.deidentify import deidentify, pseudonym
from aiaas_healthcare.dicom import decode_dicom, window

CR_MONOCHROME1 = "dicomdirtests/77654033/CR1/6154"


@pytest.fixture(autouse=True)
def home(tmp_path: Path):
    with isolated_home(tmp_path / "home"):
        yield


def _bytes(name: str) -> bytes:
    return Path(get_testdata_file(name)).read_bytes()


def _modality(name: str) -> tuple[pydicom.Dataset, np.ndarray]:
    ds = pydicom.dcmread(get_testdata_file(name))
    values = ds.pixel_array.astype(float) * float(ds.get("RescaleSlope", 1)) + float(ds.get("RescaleIntercept", 0))
    return ds, values


def test_the_files_window_is_applied() -> None:
    ds, values = _modality("MR_small.dcm")  # Window Center 600, Width 1600
    decoded = decode_dicom(_bytes("MR_small.dcm"), "MR_small.dcm", 10**8)
    expected = np.round(np.clip((values - 599.5) / 1599 + 0.5, 0, 1) * 255)
    assert decoded.pixels.dtype == np.uint8 and decoded.pixels.shape == (64, 64)
    np.testing.assert_array_equal(decoded.pixels, expected)
    # The window clips: values beyond it saturate, unlike a plain min-max stretch.
    assert (decoded.pixels == 255).sum() > (values == values.max()).sum()


def test_rescale_slope_and_intercept_reach_hounsfield_units_without_a_window() -> None:
    ds, values = _modality("CT_small.dcm")  # intercept -1024, no window: the full range is shown
    assert "WindowCenter" not in ds
    decoded = decode_dicom(_bytes("CT_small.dcm"), "CT_small.dcm", 10**8)
    expected = np.round((values - values.min()) / (values.max() - values.min()) * 255)
    np.testing.assert_array_equal(decoded.pixels, expected)


def test_monochrome1_is_inverted_after_windowing() -> None:
    ds, values = _modality(CR_MONOCHROME1)
    assert ds.PhotometricInterpretation == "MONOCHROME1"
    decoded = decode_dicom(_bytes(CR_MONOCHROME1), "cr", 10**8)
    shown = np.round(window(values, float(ds.WindowCenter), float(ds.WindowWidth)) * 255)
    np.testing.assert_array_equal(decoded.pixels, 255 - shown)


def test_rgb_and_eight_bit_files_decode() -> None:
    rgb = decode_dicom(_bytes("examples_rgb_color.dcm"), "rgb", 10**8)
    assert rgb.pixels.shape == (240, 320, 3) and rgb.pixels.dtype == np.uint8
    gray8 = decode_dicom(_bytes("image_dfl.dcm"), "dfl", 10**8)  # 8-bit, deflated transfer syntax
    assert gray8.pixels.shape == (512, 512) and gray8.pixels.max() > 0


def test_a_transfer_syntax_without_a_handler_is_refused_naming_it() -> None:
    data = _bytes("MR_small_jpeg_ls_lossless.dcm")
    try:
        decode_dicom(data, "ls.dcm", 10**8)
    except UnsupportedMedia as exc:
        assert "ls.dcm" in str(exc) and "JPEG-LS Lossless Image Compression" in str(exc) and exc.status == 415
    else:
        pytest.skip("a JPEG-LS handler is installed here")


def test_damaged_and_oversized_files_are_refused() -> None:
    data = _bytes("CT_small.dcm")
    with pytest.raises(InvalidInput, match="truncated.dcm"):
        decode_dicom(data[: len(data) // 2], "truncated.dcm", 10**8)
    with pytest.raises(TooLarge, match="over the limit"):
        decode_dicom(data, "big.dcm", 1000)
    assert decode_dicom(b"\x89PNG not dicom", "x.png", 10**8) is None


def test_deidentification_follows_the_basic_profile() -> None:
    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    original_study, original_id = str(ds.StudyInstanceUID), str(ds.PatientID)
    assert any(e.tag.is_private for e in ds) and ds.InstitutionName and ds.StudyDate
    deidentify(ds)
    assert not any(e.tag.is_private for e in ds)
    assert str(ds.PatientName) == "" and "InstitutionName" not in ds and ds.StudyDate == ""
    assert ds.PatientIdentityRemoved == "YES" and ds.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert ds.PatientID == pseudonym(original_id) != original_id
    assert ds.StudyInstanceUID.startswith("2.25.") and ds.StudyInstanceUID != original_study
    assert ds.SOPClassUID == "1.2.840.10008.5.1.4.1.1.2"  # class UIDs say what the object is; they stay

    again = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    deidentify(again)
    assert again.StudyInstanceUID == ds.StudyInstanceUID and again.PatientID == ds.PatientID  # consistent remapping
    values = [str(e.value) for e in ds.iterall() if e.VR in ("PN", "DA", "TM", "DT")]
    assert all(v in ("", "None") for v in values)


def test_decoded_metadata_is_the_deidentified_version() -> None:
    decoded = decode_dicom(_bytes("CT_small.dcm"), "ct", 10**8)
    text = repr(decoded.metadata)
    assert "CompressedSamples" not in text and "1CT1" not in text
    assert decoded.metadata["PatientIdentityRemoved"] == "YES" and decoded.patient_id.startswith("anon-")


def _saved(change) -> bytes:  # noqa: ANN001
    import io

    ds = pydicom.dcmread(get_testdata_file("CT_small.dcm"))
    ds.WindowCenter, ds.WindowWidth = "40", "400"
    change(ds)
    buffer = io.BytesIO()
    ds.save_as(buffer)
    return buffer.getvalue()


def _text_window_center(ds) -> None:  # noqa: ANN001
    del ds.WindowCenter
    ds.add_new(0x00281050, "LO", "abc")  # written as text by a broken writer


@pytest.mark.parametrize("change,words", [
    (lambda ds: setattr(ds, "PhotometricInterpretation", "PALETTE COLOR"), "PALETTE COLOR but the file has no palette lookup tables"),
    (_text_window_center, "WindowCenter 'abc' is not a number"),
])
def test_inconsistent_display_attributes_are_named_not_a_500(change, words: str) -> None:  # noqa: ANN001
    """Regression: these gave a 500."""
    from aiaas_healthcare.dicom import decode_dicom

    with pytest.raises(InvalidInput, match=words):
        decode_dicom(_saved(change), "scan.dcm", 50_000_000)
