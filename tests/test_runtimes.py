"""Both runtimes behind one interface, in one process, whatever was imported first."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

pytestmark = pytest.mark.slow

SCRIPT = textwrap.dedent(
    """
    import sys, tempfile
    from pathlib import Path
    {preamble}
    import numpy as np
    from aiaas import Architecture, FitConfig, ModelSpec
    from aiaas.plugins import Host

    def torch_builder(spec, params):
        import torch
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.linear = torch.nn.Linear(spec.inputs["x"][0], spec.outputs)
            def forward(self, inputs):
                return self.linear(inputs["x"])
        return Net()

    def keras_builder(spec, params):
        import keras
        x = keras.Input(shape=spec.inputs["x"], name="x")
        return keras.Model({{"x": x}}, keras.layers.Dense(spec.outputs)(x))

    host = Host(entry_points=False)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("int64")
    spec = ModelSpec({{"x": (3,)}}, 1, "binary")
    for name in {order}:
        builder = torch_builder if name == "torch" else keras_builder
        arch = Architecture(name="tiny", task="t/t", runtime=name, builder=builder)
        runtime = host.runtime(name)
        runtime.seed(0)
        model = runtime.build(arch, spec, {{}})
        trainer = runtime.trainer(model, spec, FitConfig(epochs=1, batch_size=64, learning_rate=0.05))
        for _ in range(5):
            trainer.epoch({{"x": x}}, y, np.ones(len(y), dtype="float32"))
        folder = Path(tempfile.mkdtemp())
        runtime.save(model, folder)
        loaded = runtime.load(folder, arch, spec, {{}})
        before, after = runtime.predict_logits(model, {{"x": x}}), runtime.predict_logits(loaded, {{"x": x}})
        assert np.allclose(before, after, atol=1e-5), name
        accuracy = ((after[:, 0] > 0) == y).mean()
        assert accuracy > 0.85, (name, accuracy)
        print(name, "ok", sorted(p.suffix for p in folder.iterdir()))
    """
)


@pytest.mark.parametrize(
    ("preamble", "order"),
    [
        ("", ["torch", "tensorflow"]),
        ("import tensorflow", ["torch", "tensorflow"]),  # a caller imported TensorFlow before aiaas
        ("import torch, tensorflow", ["torch", "tensorflow"]),
    ],
)
def test_runtimes_train_save_and_load_in_one_process(preamble: str, order: list[str]) -> None:
    code = SCRIPT.format(preamble=preamble, order=order)
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [line for line in result.stdout.splitlines() if line.endswith("]")]
    assert {line.split()[0] for line in lines} == set(order)
    assert "torch ok ['.safetensors']" in result.stdout and "tensorflow ok ['.keras']" in result.stdout


def test_a_keras_step_trainer_resumed_from_its_state_goes_on_as_if_never_stopped() -> None:
    """What a cluster checkpoint holds of a Keras fit (the variables, the optimiser's state, the shuffle's)
    brings a new trainer to where the first one stopped: its next epoch is the one the first trains."""
    script = textwrap.dedent("""
        import numpy as np
        import tensorflow as tf
        from aiaas.models.mlp_keras import build
        from aiaas.runtimes.base import FitConfig, ModelSpec
        from aiaas.runtimes.tensorflow import KerasStepTrainer

        rng = np.random.default_rng(0)
        x = {"features": rng.normal(size=(300, 5)).astype("float32")}
        y, w = (x["features"][:, 0] > 0).astype("int64"), np.ones(300, dtype="float32")
        spec, config, strategy = ModelSpec({"features": (5,)}, 1, "binary"), FitConfig(batch_size=64, seed=3), tf.distribute.get_strategy()

        def made():
            tf.keras.utils.set_random_seed(1)
            model = build(spec, {})
            return model, KerasStepTrainer(model, spec, config, strategy)

        first, trainer = made()
        losses = [trainer.epoch(x, y, w) for _ in range(2)]
        arrays, meta = trainer.state()
        saved = [np.asarray(v.numpy()).copy() for v in first.variables]  # the weights and the dropout seeds' states
        third = trainer.epoch(x, y, w)
        second, resumed = made()
        for variable, value in zip(second.variables, saved):
            variable.assign(value)
        resumed.load_state(arrays, meta)
        assert losses[1] < losses[0]
        assert abs(resumed.epoch(x, y, w) - third) < 1e-6
        assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(first.get_weights(), second.get_weights()))
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and run.stdout.strip().endswith("ok"), run.stderr[-3000:]
