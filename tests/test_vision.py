"""The core's image support: decoding under limits, the image preprocessor, image data sets."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from aiaas import InvalidInput, LoadOptions
from aiaas.errors import TooLarge, UnsupportedMedia
from aiaas.loading import fingerprint
from aiaas.scoring import flatten
from aiaas.dataset import Dataset
from aiaas.vision.datasets import PLAIN, load_npz
from aiaas.vision.decode import decode_image
from aiaas.vision.preprocess import ImagePreprocessor


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def test_png_and_jpeg_of_any_mode_decode_to_8_bit() -> None:
    ramp = np.tile(np.arange(0, 4096, 64, dtype=np.uint16), (8, 1))  # 12-bit data in a 16-bit PNG
    sixteen = decode_image(_encode(Image.fromarray(ramp), "PNG"), "ramp.png", limit=10**6)
    assert sixteen.pixels.dtype == np.uint8 and sixteen.pixels.min() == 0 and sixteen.pixels.max() == 255
    rgba = decode_image(_encode(Image.new("RGBA", (5, 4), (10, 20, 30, 128)), "PNG"), "a.png", limit=10**6)
    assert rgba.pixels.shape == (4, 5, 3)
    palette = Image.new("L", (6, 6), 77).convert("P")
    assert decode_image(_encode(palette, "PNG"), "p.png", limit=10**6).pixels.shape == (6, 6)
    jpeg = decode_image(_encode(Image.new("RGB", (9, 7), (200, 10, 10)), "JPEG"), "c.jpg", limit=10**6)
    assert jpeg.pixels.shape == (7, 9, 3) and jpeg.format == "JPEG"


def test_refusals_name_the_file_and_the_reason() -> None:
    png = _encode(Image.new("L", (64, 64), 3), "PNG")
    with pytest.raises(UnsupportedMedia, match="x.bmp: BMP images are not accepted"):
        decode_image(_encode(Image.new("L", (4, 4)), "BMP"), "x.bmp", limit=100)
    with pytest.raises(UnsupportedMedia, match="x.txt: not an image"):
        decode_image(b"hello", "x.txt", limit=100)
    with pytest.raises(TooLarge, match="big.png: image of 4,096 pixels is over the limit of 1,000"):
        decode_image(png, "big.png", limit=1000)
    with pytest.raises(InvalidInput, match="cut.png: corrupt or truncated"):
        decode_image(png[:60], "cut.png", limit=10**6)


def test_a_decompression_bomb_is_refused_before_it_is_decoded() -> None:
    bomb = _encode(Image.new("1", (20_000, 20_000)), "PNG")  # 400 megapixels in a few tens of kilobytes
    assert len(bomb) < 200_000
    with pytest.raises(TooLarge, match="over the limit"):
        decode_image(bomb, "bomb.png", limit=50_000_000)


def _records(images: list[np.ndarray]) -> pd.DataFrame:
    return pd.DataFrame({"image": images, "path": [f"{i}.png" for i in range(len(images))]})


def test_image_preprocessor_fits_size_colour_and_normalisation_on_training_images() -> None:
    rng = np.random.default_rng(0)
    gray = [(rng.random((40 + i, 50)) * 255).astype(np.uint8) for i in range(5)]
    pre = ImagePreprocessor()
    state = pre.fit(_records(gray), None)
    assert state.meta["size"] == 42 and state.meta["color"] == "gray"  # the median short side
    x = pre.transform(_records(gray), state)["image"]
    assert x.shape == (5, 3, 42, 42) and x.dtype == np.float32
    assert abs(float(x.mean())) < 0.05 and abs(float(x.std()) - 1) < 0.05
    assert np.array_equal(x[:, 0], x[:, 2])  # grayscale repeated into three channels
    rgb = pre.transform(_records([np.zeros((10, 10, 3), np.uint8)]), state)["image"]
    assert rgb.shape == (1, 3, 42, 42)  # a colour image sent to a grayscale model is converted
    assert pre.fit(_records(gray), None, options={"image_size": 28}).meta["size"] == 28
    assert pre.fit(_records([np.zeros((2000, 2000), np.uint8)]), None).meta["size"] == 224
    with pytest.raises(InvalidInput, match="image_size"):
        pre.fit(_records(gray), None, options={"image_size": "big"})


def test_image_folder_and_manifest_adapters(tmp_path: Path) -> None:
    for label in ("cat", "dog"):
        (tmp_path / "pets" / label).mkdir(parents=True)
        for i in range(3):
            Image.new("L", (8, 6), 40 * i).save(tmp_path / "pets" / label / f"{label}{i}.png")
    (tmp_path / "pets" / "notes.txt").write_text("not an image")
    data = PLAIN.folder(tmp_path / "pets", LoadOptions())
    assert len(data) == 6 and sorted(set(data.labels)) == ["cat", "dog"]
    assert data.records.loc[0, "width"] == 8 and data.records.loc[0, "height"] == 6
    unlabelled = PLAIN.folder(tmp_path / "pets", LoadOptions(labelled=False))
    assert unlabelled.labels is None and len(unlabelled) == 6

    (tmp_path / "pets" / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    with pytest.raises(InvalidInput, match="broken.png.*skip_unreadable=true"):
        PLAIN.folder(tmp_path / "pets", LoadOptions())
    skipped = PLAIN.folder(tmp_path / "pets", LoadOptions(extra={"skip_unreadable": True, "patient_regex": r"^([a-z]+)\d"}))
    assert len(skipped) == 6 and "broken.png" in skipped.notes[0]
    assert set(skipped.records["patient_id"]) == {"cat", "dog"}  # a group id from each file's name
    with pytest.raises(InvalidInput, match="patient_regex '\(' is not a regular expression"):
        PLAIN.folder(tmp_path / "pets", LoadOptions(extra={"patient_regex": "("}))

    pd.DataFrame({"path": ["pets/cat/cat0.png", "pets/dog/dog1.png"], "label": ["cat", "dog"], "patient_id": ["a", "b"]}).to_csv(
        tmp_path / "m.csv", index=False)
    listed = PLAIN.manifest(tmp_path / "m.csv", LoadOptions())
    assert list(listed.labels) == ["cat", "dog"] and list(listed.records["patient_id"]) == ["a", "b"]
    pd.DataFrame({"path": ["pets/cat/missing.png"], "label": ["cat"]}).to_csv(tmp_path / "bad.csv", index=False)
    with pytest.raises(InvalidInput, match="row 2 names pets/cat/missing.png"):
        PLAIN.manifest(tmp_path / "bad.csv", LoadOptions())


def test_npz_adapter_reads_medmnist_layout_without_pickle(tmp_path: Path) -> None:
    images = np.zeros((4, 28, 28), np.uint8)
    np.savez(tmp_path / "d.npz", train_images=images, train_labels=np.array([[0], [1], [0], [1]]),
             test_images=images[:2], test_labels=np.array([[1], [0]]))
    data = load_npz(tmp_path / "d.npz", LoadOptions())
    assert len(data) == 6 and list(data.labels) == [0, 1, 0, 1, 1, 0] and data.records.loc[0, "path"] == "d.npz:train[0]"
    assert len(load_npz(tmp_path / "d.npz", LoadOptions(extra={"splits": "test"}))) == 2
    np.savez(tmp_path / "objects.npz", train_images=np.array([{"a": 1}], dtype=object), train_labels=np.array([0]))
    with pytest.raises(InvalidInput, match="without pickle"):
        load_npz(tmp_path / "objects.npz", LoadOptions())


def test_fingerprint_sees_pixels_and_tables_flatten_label_maps() -> None:
    a = Dataset(_records([np.zeros((4, 4), np.uint8)]), pd.Series(["x"]))
    b = Dataset(_records([np.ones((4, 4), np.uint8)]), pd.Series(["x"]))
    assert fingerprint(a) != fingerprint(b) and fingerprint(a) == fingerprint(Dataset(a.records.copy(), a.labels))
    assert flatten({"probabilities": {"cat": 0.25, "dog": 0.75}, "findings": [{"x": 1}], "label": "dog"}) == {
        "probabilities.cat": 0.25, "probabilities.dog": 0.75, "findings": '[{"x": 1}]', "label": "dog"}


def test_an_image_folder_streams_in_parts_and_the_preprocessor_fits_from_their_summaries(tmp_path: Path) -> None:
    """Read in 3 parts of chunks of 4 (as 3 readers of a cluster would), the folder gives every image
    once with its label; the preprocessor fitted from the parts' merged summaries (and a sample for the
    statistics) equals the fit on the whole folder."""
    rng = np.random.default_rng(0)
    for i in range(23):
        label = ("cat", "dog")[i % 2]
        (tmp_path / label).mkdir(exist_ok=True)
        shape = (20 + i, 30, 3) if i % 5 == 0 else (20 + i, 30)
        Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(tmp_path / label / f"{i:02d}.png")
    whole = PLAIN.folder(tmp_path, LoadOptions())
    parts = [list(PLAIN.folder_stream(tmp_path, LoadOptions(part=(i, 3)), 4)) for i in range(3)]
    chunks = [chunk for part in parts for chunk in part]
    assert [len(part) for part in parts] == [2, 2, 2] and all(len(c) <= 4 for c in chunks)
    read = {path: label for c in chunks for path, label in zip(c.records["path"], c.labels)}
    assert read == dict(zip(whole.records["path"], whole.labels)) and sum(map(len, chunks)) == 23
    pre = ImagePreprocessor()
    summary = None
    for chunk in chunks[::-1]:  # in any order
        part = pre.summarize(chunk.records, chunk.labels)
        summary = part if summary is None else pre.merge(summary, part)
    assert pre.finish(summary, whole.records, whole.labels).meta == pre.fit(whole.records, whole.labels).meta
