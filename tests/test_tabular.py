"""The table preprocessor: inference on the training split, encoding, served schema."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, ValidationError

from aiaas.errors import InvalidInput
from aiaas.tabular import TabularPreprocessor


@pytest.fixture
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 200
    return pd.DataFrame({
        "Amount": rng.lognormal(3, 1.5, n),
        "V1": rng.normal(size=n),
        "merchant": rng.choice(["a", "b", "c"], n),
        "when": pd.date_range("2026-01-01", periods=n, freq="h").strftime("%Y-%m-%dT%H:%M:%S"),
        "online": rng.random(n) < 0.3,
        "customer_id": [f"c{i}" for i in range(n)],
    })


def test_infers_column_kinds_from_training_data(frame: pd.DataFrame) -> None:
    state = TabularPreprocessor().fit(frame, None)
    kinds = {c["name"]: c["kind"] for c in state.meta["columns"]}
    assert kinds == {"Amount": "log", "V1": "numeric", "merchant": "category", "when": "datetime",
                     "online": "boolean", "customer_id": "identifier"}


def test_transform_standardises_with_training_statistics(frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor()
    state = pre.fit(frame, None)
    features = pre.transform(frame, state)["features"]
    names = state.meta["feature_names"]
    assert features.shape == (200, len(names))
    v1 = features[:, names.index("V1")]
    assert abs(v1.mean()) < 1e-5 and abs(v1.std() - 1) < 0.01
    amount = features[:, names.index("Amount")]
    assert np.allclose(amount, (np.log1p(frame.Amount) - np.log1p(frame.Amount).mean()) / np.log1p(frame.Amount).std(), atol=1e-4)
    # a category never seen in training lands in "other", not an error
    unseen = pre.transform(frame.assign(merchant="zzz").head(1), state)["features"]
    assert unseen[0, names.index("merchant=<other>")] == 1.0


def test_missing_column_and_bad_values_are_named(frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor()
    state = pre.fit(frame, None)
    with pytest.raises(InvalidInput, match="missing column.*'V1'"):
        pre.transform(frame.drop(columns=["V1"]), state)
    with pytest.raises(InvalidInput, match=r"column 'V1': 'oops' in row 3 is not a number"):
        pre.transform(frame.astype({"V1": object}).assign(V1=lambda d: d.V1.where(d.index != 3, "oops")), state)
    with pytest.raises(InvalidInput, match="column 'when'.*not a date"):
        pre.transform(frame.assign(when="yesterday"), state)


def test_served_schema_is_built_from_trained_columns(frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor()
    state = pre.fit(frame, None)
    model = pre.input_model(state, None)
    ok = model.model_validate({"Amount": 10.0, "V1": 0.1, "merchant": "a", "when": "2026-01-01T10:00:00", "online": True})
    assert ok.Amount == 10.0
    with pytest.raises(ValidationError) as err:
        model.model_validate({"Amount": 10.0, "merchant": "a", "when": "2026-01-01T10:00:00", "online": True, "surprise": 1})
    locs = {e["loc"] for e in err.value.errors()}
    assert ("V1",) in locs and ("surprise",) in locs


def test_task_schema_is_kept_when_the_data_has_its_columns(frame: pd.DataFrame) -> None:
    class Default(BaseModel):
        Amount: float
        V1: float
        merchant: str
        when: str
        online: bool

    pre = TabularPreprocessor()
    assert pre.input_model(pre.fit(frame, None), Default) is Default
    assert pre.input_model(pre.fit(frame.assign(V2=1.0), None), Default) is not Default


def test_numbers_past_the_features_range_are_read_at_the_edge_never_nan() -> None:
    """Regression (found by schemathesis): a number past float32's range made the answer NaN, a 500. It is read
    as the edge of what the model reads (the input checks, on the raw value, flag it)."""
    from aiaas.tabular import Z_LIMIT, TabularPreprocessor

    frame = pd.DataFrame({"amount": [10.0, 20.0, 30.0] * 20, "region": ["a", "b", "c"] * 20})
    pre = TabularPreprocessor()
    state = pre.fit(frame)
    features = pre.transform(pd.DataFrame({"amount": [5.0, 1e300, -1.7e308, 1e30], "region": ["a"] * 4}), state)["features"]
    assert np.isfinite(features).all() and features[1, 0] == Z_LIMIT and features[2, 0] == -Z_LIMIT
    assert abs(features[0, 0]) < 3  # an ordinary value is untouched


def test_the_served_schema_holds_only_the_columns_the_model_uses(frame: pd.DataFrame) -> None:
    pre = TabularPreprocessor()
    model = pre.input_model(pre.fit(frame, None), None)
    assert set(model.model_fields) == {"Amount", "V1", "merchant", "when", "online"}  # customer_id identifies, it is not a feature


def test_the_api_s_typed_records_encode_as_the_file_s_text_does(frame: pd.DataFrame) -> None:
    """The request path reads plain datetimes by integer arithmetic and numbers-or-None at once;
    the result is the pandas path's, missing values and times across midnight and weekdays included."""
    pre = TabularPreprocessor()
    state = pre.fit(frame, None)
    texts = frame.head(60).copy()
    texts.loc[3, "when"] = None
    typed = texts.assign(when=pd.to_datetime(texts["when"]), V1=texts["V1"].astype(object))
    typed.loc[5, "V1"] = None
    texts.loc[5, "V1"] = None
    assert typed["when"].dtype.kind == "M" and typed["V1"].dtype == object
    assert np.allclose(pre.transform(typed, state)["features"], pre.transform(texts, state)["features"], atol=1e-6)


def test_ablation_in_the_encoded_inputs_equals_ablating_each_column() -> None:
    from aiaas.explainers.ablation import FeatureAblation
    from aiaas.pipeline import Pipeline

    rng = np.random.default_rng(1)
    records = pd.DataFrame({"x": rng.normal(size=40), "kind": rng.choice(["a", "b", "c"], 40),
                            "when": pd.date_range("2026-01-01", periods=40, freq="7h")})
    pre = TabularPreprocessor()
    state = pre.fit(records, None)
    weights = rng.normal(size=len(state.meta["feature_names"]))

    class Linear:  # a stand-in model: a fixed logistic regression on the encoded features
        name = "stub"

        def predict_logits(self, model: object, inputs: dict[str, np.ndarray]) -> np.ndarray:
            return inputs["features"] @ weights

    pipeline = Pipeline(task=None, labels=type("L", (), {"kind": "binary"})(), runtime_name="stub", runtime=Linear(), model=None,  # type: ignore[arg-type]
                        preprocessor=pre, pre_state=state, postprocessor=None, manifest={})
    base, columns, encoded = FeatureAblation().attributions(pipeline, records)
    # a preprocessor that does not place its columns: the variants are made as records and encoded again
    slow = Pipeline(task=None, labels=pipeline.labels, runtime_name="stub", runtime=Linear(), model=None,  # type: ignore[arg-type]
                    preprocessor=type("Records", (), {k: getattr(pre, k) for k in ("transform", "feature_columns", "baselines")})(),
                    pre_state=state, postprocessor=None, manifest={})
    _, _, by_records = FeatureAblation().attributions(slow, records)
    assert columns == ["x", "kind", "when"] and np.allclose(encoded, by_records, atol=1e-6) and np.abs(encoded).max() > 0.01
