"""Every knowledge-tracing model predicts a step from earlier answers only, and a step
asking about a skill after the history reads the state after the whole history."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from aiaas import ModelSpec

SKILLS = 9
SPEC = ModelSpec(inputs={}, outputs=1, kind="sequence", hints={"skills": SKILLS, "window": 20})


def _builders() -> list[tuple[str, Any]]:
    return [("dkt-keras", "aiaas_education.models.dkt_keras"), ("dkt-torch", "aiaas_education.models.dkt_torch"),
            ("sakt", "aiaas_education.models.sakt")]


def _run(name: str, model: Any, inputs: dict[str, np.ndarray]) -> np.ndarray:
    if name == "dkt-keras":
        return np.asarray(model(inputs, training=False))
    import torch

    model.eval()
    with torch.no_grad():
        return model({k: torch.as_tensor(v) for k, v in inputs.items()}).numpy()


@pytest.fixture(scope="module", params=_builders(), ids=lambda b: b[0])
def model(request: pytest.FixtureRequest) -> tuple[str, Any]:
    import importlib

    name, module = request.param
    if name != "dkt-keras":
        import torch

        torch.manual_seed(0)
    return name, importlib.import_module(module).build(SPEC, {"hidden": 16, "embedding": 8, "dimension": 16, "heads": 2, "dropout": 0.0})


def test_a_step_never_sees_its_own_or_later_answers(model: tuple[str, Any]) -> None:
    name, net = model
    rng = np.random.default_rng(0)
    skill = rng.integers(2, SKILLS, size=(1, 8)).astype("int32")
    correct = rng.integers(0, 2, size=(1, 8)).astype("int32")
    base = _run(name, net, {"skill": skill, "correct": correct, "query": skill})
    flipped = correct.copy()
    flipped[0, 4] = 1 - flipped[0, 4]
    changed = _run(name, net, {"skill": skill, "correct": flipped, "query": skill})
    np.testing.assert_allclose(base[0, :5], changed[0, :5], atol=1e-5)  # steps 0..4 do not see answer 4
    assert np.abs(base[0, 5:] - changed[0, 5:]).max() > 1e-4  # later steps do


def test_questions_after_the_history_read_the_final_state(model: tuple[str, Any]) -> None:
    name, net = model
    skill = np.array([[3, 4, 3, 5, 0, 0], [3, 4, 3, 5, 0, 0]], dtype="int32")
    correct = np.array([[1, 0, 1, 1, 0, 0], [1, 0, 1, 1, 0, 0]], dtype="int32")
    query = np.array([[3, 4, 3, 5, 6, 0], [3, 4, 3, 5, 2, 6]], dtype="int32")  # row 1 asks about skill 2 first
    out = _run(name, net, {"skill": skill, "correct": correct, "query": query})
    assert out[0, 4] == pytest.approx(out[1, 5], abs=1e-5)  # skill 6 after the same history, wherever it is asked
    padded = _run(name, net, {"skill": np.pad(skill, ((0, 0), (0, 3))), "correct": np.pad(correct, ((0, 0), (0, 3))),
                              "query": np.pad(query, ((0, 0), (0, 3)))})
    np.testing.assert_allclose(out, padded[:, :6], atol=1e-5)  # padding to a longer batch changes nothing


@pytest.mark.slow
@pytest.mark.parametrize("arch,runtime", [("dkt", "torch"), ("sakt", "torch")])
def test_torch_models_train_save_and_serve(arch: str, runtime: str, tmp_path: Path) -> None:
    from aiaas.testing import trained_models
    from aiaas.training import TrainRequest
    from aiaas.versions import load_version
    from aiaas_education.simulator import write_sample

    data = write_sample(tmp_path / "sample", 5000, seed=7)
    request = TrainRequest("education/knowledge-tracing", data, architecture=arch, runtime=runtime, epochs=4, promote=True, force=True,
                           options={"window": 40}, params={"batch_size": 16})
    with trained_models(tmp_path / "home", data, {arch: request}) as models:
        assert models[arch].metrics["roc_auc"] > 0.65
        assert (models.registry.folder(models[arch].version) / "model.safetensors").is_file()
        pipeline = load_version(models.host, models.registry, "education/knowledge-tracing")
        assert pipeline.manifest["architecture"] == arch and pipeline.runtime_name == "torch"
        body = {"instances": [{"learner": "a", "history": [{"skill": "addition", "correct": 1}] * 3, "next": {"skill": "addition"}}]}
        answer = models.client().post("/v1/education/knowledge-tracing/predict", json=body).json()["predictions"][0]
        assert answer["next"]["probability"] == pytest.approx(answer["mastery"]["addition"], abs=1e-3)
