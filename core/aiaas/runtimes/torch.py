"""PyTorch runtime: weights as safetensors, the module rebuilt from its architecture."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import numpy as np

from aiaas.runtimes.coexistence import before_torch

before_torch()

import torch  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from aiaas.errors import UserError  # noqa: E402
from aiaas.records import Architecture  # noqa: E402
from aiaas.runtimes.base import Arrays, FitConfig, ModelRuntime, ModelSpec, Trainer, batches, build_with  # noqa: E402

WEIGHTS = "model.safetensors"
GENERATOR = "\0generator"


def _device() -> torch.device:
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def _tensors(inputs: Arrays, index: Any, device: torch.device) -> dict[str, torch.Tensor]:
    return {k: torch.as_tensor(v[index]).to(device) for k, v in inputs.items()}


def loss_fn(kind: str, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Per-instance loss for a label kind (reduction is the caller's, for weights)."""
    if kind == "binary":
        return torch.nn.functional.binary_cross_entropy_with_logits(logits.reshape(-1), targets.float(), reduction="none")
    if kind == "multiclass":
        return torch.nn.functional.cross_entropy(logits, targets.long(), reduction="none")
    if kind == "multilabel":
        return torch.nn.functional.binary_cross_entropy_with_logits(logits, targets.float(), reduction="none").mean(-1)
    if kind == "sequence":  # scored steps only (-1 marks the rest); the batch's mean is per scored step
        scored = (targets >= 0).float()
        steps = torch.nn.functional.binary_cross_entropy_with_logits(logits, targets.clamp(min=0).float(), reduction="none")
        return (steps * scored).sum(-1) * len(targets) / scored.sum().clamp(min=1)
    return torch.nn.functional.mse_loss(logits.reshape(-1), targets.float(), reduction="none")


class TorchTrainer(Trainer):
    def __init__(self, model: torch.nn.Module, spec: ModelSpec, config: FitConfig) -> None:
        self.model, self.spec, self.config = model, spec, config
        self.device = next(model.parameters()).device
        self.optimizer = torch.optim.AdamW(model.parameters(), lr=config.learning_rate, weight_decay=config.weight_decay)
        self.generator = torch.Generator().manual_seed(config.seed)

    def epoch(self, inputs: Arrays, targets: np.ndarray, weights: np.ndarray) -> float:
        self.model.train()
        n = len(targets)
        order = torch.randperm(n, generator=self.generator).numpy()
        total = 0.0
        for part in batches(n, self.config.batch_size):
            index = order[part]
            batch = _tensors(inputs, index, self.device)
            y = torch.as_tensor(targets[index]).to(self.device)
            w = torch.as_tensor(weights[index], dtype=torch.float32).to(self.device)
            self.optimizer.zero_grad()
            loss = (loss_fn(self.spec.kind, self.model(batch), y) * w).sum() / w.sum()
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach()) * len(index)
        return total / max(n, 1)

    def snapshot(self) -> Any:
        return copy.deepcopy(self.model.state_dict())

    def restore(self, snapshot: Any) -> None:
        self.model.load_state_dict(snapshot)

    def state(self) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        """The optimiser's and the shuffle's state as arrays and JSON, for a checkpoint without pickle."""
        saved = self.optimizer.state_dict()
        arrays = {f"{index}.{name}": value.detach().cpu().numpy().copy() for index, per in saved["state"].items()
                  for name, value in per.items() if torch.is_tensor(value)}
        arrays[GENERATOR] = self.generator.get_state().numpy().copy()
        return arrays, {"param_groups": saved["param_groups"]}

    def load_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in arrays.items():
            if key != GENERATOR:
                index, name = key.split(".", 1)
                state.setdefault(int(index), {})[name] = torch.from_numpy(value)
        self.optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
        self.generator.set_state(torch.from_numpy(arrays[GENERATOR]))


class TorchRuntime(ModelRuntime):
    name = "torch"

    def build(self, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> torch.nn.Module:
        return build_with(architecture, spec, params).to(_device())

    def seed(self, seed: int) -> None:
        torch.manual_seed(seed)

    def trainer(self, model: Any, spec: ModelSpec, config: FitConfig) -> Trainer:
        return TorchTrainer(model, spec, config)

    @torch.inference_mode()
    def predict_logits(self, model: Any, inputs: Arrays) -> np.ndarray:
        model.eval()
        device = next(model.parameters()).device
        n = len(next(iter(inputs.values())))
        outs = [model(_tensors(inputs, part, device)).float().cpu().numpy() for part in batches(n, 8192)]
        return np.concatenate(outs) if outs else np.zeros((0, 1), dtype=np.float32)

    def embed(self, model: Any, inputs: Arrays) -> tuple[np.ndarray, np.ndarray | None]:
        """(logits, the input of the model's last linear layer) from one pass; None when it has none."""
        heads = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]
        if not heads:
            return self.predict_logits(model, inputs), None
        captured: list[np.ndarray] = []
        hook = heads[-1].register_forward_hook(lambda module, args, out: captured.append(args[0].float().flatten(1).cpu().numpy()))
        try:
            logits = self.predict_logits(model, inputs)
        finally:
            hook.remove()
        return logits, np.concatenate(captured) if captured else None

    def export_onnx(self, model: Any, sample: Arrays, path: Path) -> None:
        """Named tensors in; ``logits`` and the last linear layer's input (``embedding``) out. Batch
        and, for integer sequences (token ids), length are dynamic."""
        import warnings

        names = sorted(sample)
        head = [m for m in model.modules() if isinstance(m, torch.nn.Linear)]

        class Exported(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, *tensors: torch.Tensor) -> Any:
                captured: list[torch.Tensor] = []
                hook = head[-1].register_forward_hook(lambda _m, args, _o: captured.append(args[0].flatten(1))) if head else None
                try:
                    logits = self.model(dict(zip(names, tensors)))
                finally:
                    if hook is not None:
                        hook.remove()
                return (logits, captured[0]) if captured else logits

        device = next(model.parameters()).device
        example = tuple(torch.as_tensor(np.ascontiguousarray(sample[n][:2])).to(device) for n in names)
        outputs = ["logits", "embedding"] if head else ["logits"]
        dynamic = {n: {0: "batch", **({1: "length"} if sample[n].ndim == 2 and sample[n].dtype.kind in "iu" else {})} for n in names}
        model.eval()
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")
            try:
                torch.onnx.export(Exported().eval(), example, str(path), input_names=names, output_names=outputs, opset_version=17,
                                  dynamic_axes={**dynamic, **{o: {0: "batch"} for o in outputs}}, dynamo=False)
            except Exception as exc:  # noqa: BLE001 - the exporter's own message names the operator
                raise UserError(f"PyTorch could not export this model to ONNX: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from exc

    def save(self, model: Any, directory: Path) -> None:
        state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(directory / WEIGHTS))

    def load(self, directory: Path, architecture: Architecture, spec: ModelSpec, params: dict[str, Any]) -> Any:
        model = build_with(architecture, spec, params)
        model.load_state_dict(load_file(str(directory / WEIGHTS)))
        model.eval()
        return model.to(_device())

    def initialise(self, model: Any, path: Path) -> dict[str, Any]:
        """Load every tensor of a safetensors file whose name and shape fit the model.

        Names match after dropping leading components on either side, so torchvision's
        ``layer1.0.conv1.weight`` fits a wrapped ``net.layer1.0.conv1.weight``; tensors whose
        shape differs (a classifier head for 1,000 classes, a stem resized for small
        images) keep their fresh initialisation and are listed as skipped.
        """
        if path.suffix != ".safetensors":
            raise UserError(
                f"--weights {path}: give a .safetensors file (a pickled .pt/.pth file can run code when loaded); convert one "
                "you trust with: python -c \"import torch, safetensors.torch as s; "
                "s.save_file(torch.load('in.pth', weights_only=True), 'out.safetensors')\""
            )
        try:
            given = load_file(str(path))
        except Exception as exc:
            raise UserError(f"--weights {path}: not a readable safetensors file ({exc})") from None
        by_suffix: dict[str, str] = {}
        for name in sorted(given, key=len):
            parts = name.split(".")
            for start in range(max(len(parts) - 1, 1)):  # suffixes of two parts or more: "bn1.weight", not "weight"
                by_suffix.setdefault(".".join(parts[start:]), name)
        own = model.state_dict()
        loaded, skipped = {}, []
        for key, tensor in own.items():
            parts = key.split(".")
            source = next((by_suffix[".".join(parts[i:])] for i in range(max(len(parts) - 1, 1)) if ".".join(parts[i:]) in by_suffix), None)
            if source is not None and tuple(given[source].shape) == tuple(tensor.shape):
                loaded[key] = given[source].to(tensor.dtype)
            else:
                skipped.append(key)
        if not any(k.endswith("weight") for k in loaded):
            raise UserError(f"--weights {path}: none of its {len(given)} tensors fit this model (names or shapes differ)")
        model.load_state_dict(loaded, strict=False)
        return {"file": str(path), "loaded": len(loaded), "tensors": len(own), "skipped": skipped[:20]}

    def device(self) -> str:
        return str(_device())
