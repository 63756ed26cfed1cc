"""The checks every plugin must pass, as a test class a plugin subclasses::

    from aiaas.testing import PluginContract

    class TestInsurancePlugin(PluginContract):
        plugin = "insurance"          # the entry point's name in the group ``aiaas``

The plugin must be installed (``pip install -e .``): the first check is that its entry
point loads. For each of the plugin's tasks, the contract writes the task's own sample
data (``sample_rows`` rows), reads it through every adapter, fits the processors, trains
each of the plugin's architectures for one epoch on every runtime installed, then trains
the task's default architecture once and asks the HTTP routes for answers and explanations.

Override ``sample_rows``, ``sample_options`` (the generator's options), ``train_options``
(``--option`` values), ``instances`` (how a record becomes an API instance), or the
``served`` fixture (to reuse models the plugin's own tests train).
"""

from __future__ import annotations

import base64
import io
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from aiaas.records import Architecture, DataAdapter
from aiaas.testing.helpers import TrainedModels, trained_models

if TYPE_CHECKING:
    import pandas as pd

    from aiaas.dataset import Dataset
    from aiaas.plugins import Host
    from aiaas.records import Task


class PluginContract:
    plugin: str = ""
    sample_rows: int = 300
    sample_options: dict[str, Any] = {}
    train_options: dict[str, Any] = {}

    # -- fixtures --------------------------------------------------------------------

    @pytest.fixture(scope="class")
    @classmethod
    def host(cls) -> Host:
        """The host with every installed plugin, as ``aiaas serve`` loads it."""
        from aiaas.plugins import Host

        if not cls.plugin:
            pytest.fail(f"{cls.__name__} must name its plugin: plugin = 'my-plugin'", pytrace=False)
        return Host()

    @pytest.fixture(scope="class")
    @classmethod
    def tasks(cls, host: Host) -> list[Task]:
        """The tasks the plugin registers, then those of other plugins it adds an adapter or an architecture to."""
        c = host.components
        names = [name for name in c.tasks if c.owner[("tasks", name)] == cls.plugin]
        names += [r.task for r in _owned(host, cls.plugin) if isinstance(r, (DataAdapter, Architecture)) and r.task in c.tasks]
        if not names:
            pytest.skip(f"plugin {cls.plugin} registers no task, and no adapter or architecture for one")
        return [c.tasks[name] for name in dict.fromkeys(names)]

    @pytest.fixture(scope="class")
    @classmethod
    def samples(cls, tasks: list[Task], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
        """Each task's sample data, written by its own generator."""
        from aiaas.records import resolve

        root = tmp_path_factory.mktemp(f"{cls.plugin}-contract")
        return {t.name: Path(resolve(t.sample)(root / t.short_name, cls.sample_rows, 0, **cls.sample_options)) for t in tasks}

    @pytest.fixture(scope="class")
    @classmethod
    def datasets(cls, host: Host, tasks: list[Task], samples: dict[str, Path]) -> dict[str, Dataset]:
        """Each task's sample, read once through the adapter training picks for it."""
        from aiaas.loading import load_data

        return {t.name: load_data(host, t.name, samples[t.name], None, None, dict(cls.train_options)) for t in tasks}

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls, host: Host, tasks: list[Task], samples: dict[str, Path],
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedModels]:
        """Each task's default architecture (the classical floor where it is ``auto``), trained
        for one epoch on the sample and promoted."""
        from aiaas.records import AUTO
        from aiaas.training import TrainRequest

        requests = {}
        for task in _own_tasks(host, tasks, cls.plugin):
            architecture = host.floor(task) if task.default_architecture == AUTO else host.architecture(task)
            if architecture is None or not host.runtime_installed(architecture.runtime):
                continue
            requests[task.name] = TrainRequest(task.name, samples[task.name], architecture.runtime, architecture.name, epochs=1,
                                               promote=True, force=True, options=dict(cls.train_options))
        if not requests:
            pytest.skip(f"plugin {cls.plugin} serves no task of its own whose default architecture's runtime is installed")
        with trained_models(tmp_path_factory.mktemp(f"{cls.plugin}-served"), next(iter(samples.values())), requests, host) as models:
            yield models

    def instances(self, task: Task, records: pd.DataFrame) -> list[dict[str, Any]]:
        """API instances of these records: an image record's pixels become a PNG; other records
        keep the fields the task's input model declares."""
        from aiaas.records import resolve

        if task.modality == "image":
            return [{"image": base64.b64encode(_png(r["image"])).decode(), "filename": f"{i}.png"}
                    for i, r in enumerate(records.to_dict(orient="records"))]
        names = set(resolve(task.input_model).model_fields)
        rows = json.loads(records.to_json(orient="records", date_format="iso"))
        return [{k: v for k, v in row.items() if k in names and v is not None} for row in rows]

    # -- loading ---------------------------------------------------------------------

    def test_entry_point_loads(self, host: Host) -> None:
        import importlib.metadata

        names = [ep.name for ep in importlib.metadata.entry_points(group="aiaas")]
        assert self.plugin in names, f"no entry point {self.plugin!r} in the group 'aiaas' (installed: {names}); pip install -e ."
        info = host.plugins[self.plugin]
        assert info.status == "ok", f"plugin {self.plugin} was set aside: {info.reason}"

    def test_every_reference_resolves(self, host: Host) -> None:
        from aiaas.records import REF_FIELDS, resolve

        for record in _owned(host, self.plugin):
            for f in fields(record):
                value = getattr(record, f.name)
                if f.name in REF_FIELDS and isinstance(value, str):
                    try:
                        resolve(value)
                    except Exception as exc:
                        pytest.fail(f"{type(record).__name__} {record.name}: {f.name}={value!r} does not resolve: {exc}", pytrace=False)

    def test_record_names_are_namespaced_and_unique(self, host: Host, tasks: list[Task]) -> None:
        spaces = {t.industry for t in tasks} | {self.plugin}
        seen: set[tuple[str, str]] = set()
        for record in _owned(host, self.plugin):
            kind = type(record).__name__
            if isinstance(record, Architecture):
                assert record.task in host.components.tasks, f"architecture {record.name} is for unknown task {record.task!r}"
                continue
            if kind != "Task":
                assert any(record.name.startswith(f"{space}.") for space in spaces), (
                    f"{kind} {record.name!r} is not namespaced: start it with one of {sorted(f'{s}.' for s in spaces)}")
            assert (kind, record.name) not in seen, f"{kind} {record.name!r} is registered twice"
            seen.add((kind, record.name))

    def test_importing_the_plugin_imports_no_framework(self) -> None:
        import importlib.metadata

        entry = next(ep for ep in importlib.metadata.entry_points(group="aiaas") if ep.name == self.plugin)
        code = (f"import sys, importlib; importlib.import_module({entry.module!r}); "
                "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'onnxruntime', 'ray') if m in sys.modules))")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr[-2000:]
        assert out.stdout.strip() == "[]", f"importing {entry.module} imports {out.stdout.strip()}: import them inside the functions that need them"

    # -- data ------------------------------------------------------------------------

    def adapter_sample(self, adapter: DataAdapter, sample: Path) -> Path | None:
        """The input ``adapter`` reads, made from the task's sample: the sample itself when the
        adapter reads its format. Override for an adapter of another format (make that file)."""
        suffix = "/" if sample.is_dir() else sample.suffix.lower()
        return sample if suffix in adapter.suffixes else None

    def test_each_adapter_reads_the_sample_data(self, host: Host, samples: dict[str, Path]) -> None:
        from aiaas.dataset import LoadOptions
        from aiaas.records import resolve

        tried = 0
        for adapter in (r for r in _owned(host, self.plugin) if isinstance(r, DataAdapter)):
            task, sample = host.task(adapter.task), samples[adapter.task]
            path = self.adapter_sample(adapter, sample)
            assert path is not None, (f"adapter {adapter.name} reads none of the sample's format ({sample.name}): "
                                      f"override adapter_sample to write its input from the sample")
            dataset = resolve(adapter.load)(path, LoadOptions(label=task.label_column, extra=dict(self.train_options)))
            assert len(dataset.records) > 0, f"adapter {adapter.name} read no records from {path}"
            assert dataset.labels is not None and len(dataset.labels) == len(dataset.records), (
                f"adapter {adapter.name}: {0 if dataset.labels is None else len(dataset.labels)} labels for {len(dataset.records)} records")
            tried += 1
        if not tried:
            pytest.skip(f"plugin {self.plugin} registers no adapter")

    def test_labels_match_the_label_schema(self, host: Host, tasks: list[Task], datasets: dict[str, Dataset]) -> None:
        from aiaas.labels import encode

        for task in _own_tasks(host, tasks, self.plugin):
            dataset = datasets[task.name]
            schema = host.label_schema(task, _chosen(task, dataset))
            encoded = encode(schema, dataset.labels, task.label_column)  # refuses a label the schema does not have, naming it
            if schema.kind in ("binary", "multiclass"):
                assert len(set(encoded.tolist())) > 1, f"the sample of {task.name} has a single label"

    def test_the_input_model_matches_the_columns_a_model_learns_from(self, host: Host, tasks: list[Task], datasets: dict[str, Dataset]) -> None:
        """A field of the task's input model that the sample data has no column for would be asked of every request
        and ignored; a column the model learns from that the input model lacks would not be served as declared."""
        from aiaas.records import resolve
        from aiaas.tabular import mismatch_notes

        for task in _own_tasks(host, tasks, self.plugin):
            pre = host.instance("preprocessor", task.preprocessor, host.components.preprocessors[task.preprocessor].impl)
            if not hasattr(pre, "feature_columns") or not task.input_model:
                continue
            state = pre.fit(datasets[task.name].records, datasets[task.name].labels, options=dict(self.train_options))
            notes = mismatch_notes(resolve(task.input_model), pre.feature_columns(state))
            assert not notes, f"{task.name}: {'; '.join(notes)}"

    def test_processors_keep_the_batch_length_and_their_state_round_trips(self, host: Host, tasks: list[Task], datasets: dict[str, Dataset],
                                                                           tmp_path: Path) -> None:
        import numpy as np

        from aiaas.loading import instances
        from aiaas.state import State

        for task in _own_tasks(host, tasks, self.plugin):
            dataset = datasets[task.name]
            names = {task.preprocessor} | {a.preprocessor for a in host.architectures(task) if a.preprocessor}
            for name in sorted(names):
                pre = host.instance("preprocessor", name, host.components.preprocessors[name].impl)
                state = pre.fit(dataset.records, dataset.labels, options=dict(self.train_options))
                state.save(tmp_path, name)
                again = State.load(tmp_path, name)
                batch = instances(pre, dataset, state).records.head(16)
                first, second = pre.transform(batch, state), pre.transform(batch, again)
                for key, array in first.items():
                    assert len(array) == len(batch), f"preprocessor {name} turned {len(batch)} records into {len(array)} rows of {key!r}"
                    assert np.array_equal(array, second[key]), f"preprocessor {name}: {key!r} differs after its state is saved and loaded"

    def test_each_architecture_trains_one_epoch_on_each_runtime(self, host: Host, tasks: list[Task], samples: dict[str, Path]) -> None:
        from aiaas.training import TrainRequest, fit_candidate, load_split, new_progress

        tried = 0
        for task in tasks:
            for architecture in host.architectures(task):
                if host.components.owner.get(("architectures", (architecture.task, architecture.runtime, architecture.name))) != self.plugin:
                    continue
                if not host.runtime_installed(architecture.runtime):  # declared, but this environment lacks it
                    warnings.warn(f"{architecture.name} ({architecture.runtime}) not tried: the {architecture.runtime} runtime is not installed",
                                  stacklevel=1)
                    continue
                request = TrainRequest(task.name, samples[task.name], architecture.runtime, architecture.name, epochs=1,
                                       options=dict(self.train_options))
                screens = getattr(host.preprocessor(task, architecture), "screens_columns", False)
                with new_progress(True) as progress:
                    candidate = fit_candidate(host, task, architecture, load_split(host, task, request, screens), {}, request, progress)
                assert len(candidate.p_test) == len(candidate.prepared.test.records), f"{architecture.name} ({architecture.runtime})"
                tried += 1
        if not tried:
            pytest.skip(f"plugin {self.plugin} registers no architecture whose runtime is installed")

    # -- serving ---------------------------------------------------------------------

    def test_predict_answers_a_sample_and_refuses_a_malformed_one(self, served: TrainedModels, datasets: dict[str, Dataset]) -> None:
        with served.inside():
            client = served.client()
            for task, _, dataset in _served(served, datasets):
                body = {"instances": self.instances(task, dataset.records.head(3))}
                response = client.post(f"/v1/{task.name}/predict", json=body)
                assert response.status_code == 200, f"{task.name}: {response.status_code} {response.text[:500]}"
                assert len(response.json()["predictions"]) == len(body["instances"])
                for bad in ({"instances": [{"no_such_field_xyz": 1}]}, {"instances": "not a list"}, {"rows": body["instances"]}):
                    refused = client.post(f"/v1/{task.name}/predict", json=bad)
                    assert refused.status_code == 422, f"{task.name} answered {refused.status_code} to {bad}: {refused.text[:300]}"

    def test_explainers_run(self, served: TrainedModels, datasets: dict[str, Dataset]) -> None:
        with served.inside():
            client = served.client()
            for task, runtime, dataset in _served(served, datasets):
                if served.host.explainer(task, runtime) is None:
                    continue  # no explanation for this runtime: /explain says so with a 422
                body = {"instances": self.instances(task, dataset.records.head(2))}
                response = client.post(f"/v1/{task.name}/explain", json=body)
                assert response.status_code == 200, f"{task.name}: {response.status_code} {response.text[:500]}"
                explained = response.json()["explanations"]
                assert len(explained) == len(body["instances"]) and all(explained), explained


    def test_stock_v2_clients_answer_each_task(self, served: TrainedModels, datasets: dict[str, Dataset]) -> None:
        """``tritonclient.http`` (binary tensors, its default) and ``tritonclient.grpc``, as they come, against the
        Open Inference Protocol: the instances ``/predict`` answers are answered alike over both, and a wrong input
        is refused in words the client shows."""
        import socket

        import numpy as np

        triton_http = pytest.importorskip("tritonclient.http", reason="the stock V2 clients: pip install 'tritonclient[http,grpc]'")
        triton_grpc = pytest.importorskip("tritonclient.grpc", reason="the stock V2 clients: pip install 'tritonclient[http,grpc]'")
        from tritonclient.utils import InferenceServerException

        from aiaas.serving.app import create_app
        from aiaas.settings import get_settings
        from aiaas.testing.helpers import running_server

        with served.inside(), socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            grpc_port = probe.getsockname()[1]
            probe.close()
            app = create_app(served.host, served.registry, get_settings().model_copy(update={"grpc_port": grpc_port}))
            app.state.served.warm_all()
            with running_server(app) as url:
                over_http, over_grpc = triton_http.InferenceServerClient(url.removeprefix("http://")), triton_grpc.InferenceServerClient(
                    f"127.0.0.1:{grpc_port}")
                for task, _, dataset in _served(served, datasets):
                    instances = self.instances(task, dataset.records.head(3))
                    fields = {i["name"]: i["datatype"] for i in over_http.get_model_metadata(task.name)["inputs"]}
                    given = [f for f in fields if all(f in instance for instance in instances)]
                    instances = [{f: instance[f] for f in given} for instance in instances]
                    domain = served.client().post(f"/v1/{task.name}/predict", json={"instances": instances})
                    assert domain.status_code == 200, f"{task.name}: {domain.text[:500]}"
                    answers = [client.infer(task.name, _v2_inputs(module, instances, fields)) for client, module in
                               ((over_http, triton_http), (over_grpc, triton_grpc))]
                    probabilities = [a.as_numpy("probabilities") for a in answers]
                    assert probabilities[0].shape[0] == len(instances), f"{task.name}: {probabilities[0].shape}"
                    assert np.allclose(probabilities[0], probabilities[1], equal_nan=True), task.name
                    if answers[0].as_numpy("label") is not None:
                        assert answers[0].as_numpy("label").tolist() == answers[1].as_numpy("label").tolist(), task.name
                    wrong = _v2_inputs(triton_http, [{"no_such_field_xyz": 1.0}], {"no_such_field_xyz": "FP64"})
                    with pytest.raises(InferenceServerException) as refused:
                        over_http.infer(task.name, wrong)
                    assert refused.value.status() == "422" and "no_such_field_xyz" in refused.value.message(), refused.value.message()


def _v2_inputs(module: Any, instances: list[dict[str, Any]], fields: dict[str, str]) -> list[Any]:  # noqa: ANN401
    """The instances as a tritonclient's ``InferInput`` tensors, one per field, set from numpy as a user would."""
    import numpy as np

    tensors = []
    for name, datatype in fields.items():
        if name not in instances[0]:
            continue
        values = [instance[name] for instance in instances]
        if datatype == "BYTES":
            array = np.array([(v if isinstance(v, str) else json.dumps(v)).encode() for v in values], dtype=object)
        else:
            array = np.array(values, dtype={"FP64": np.float64, "INT64": np.int64, "BOOL": np.bool_}[datatype])
        tensor = module.InferInput(name, [len(values)], datatype)
        tensor.set_data_from_numpy(array)
        tensors.append(tensor)
    return tensors


def _own_tasks(host: Host, tasks: list[Task], plugin: str) -> list[Task]:
    return [t for t in tasks if host.components.owner[("tasks", t.name)] == plugin]


def _owned(host: Host, plugin: str) -> list[Any]:
    c = host.components
    return [getattr(c, slot)[key] for (slot, key), owner in c.owner.items() if owner == plugin]


def _chosen(task: Task, dataset: Dataset) -> str | None:
    from aiaas.records import resolve

    return resolve(task.choose_labels)(dataset.labels) if task.choose_labels else None


def _served(served: TrainedModels, datasets: dict[str, Dataset]) -> Iterator[tuple[Task, str, Dataset]]:
    """Each task with a promoted model: the task, the production runtime, the task's sample."""
    seen = set()
    for result in served.results.values():
        name = result.version.task
        if result.promoted and name not in seen and name in datasets:
            seen.add(name)
            yield served.host.task(name), result.version.runtime, datasets[name]


def _png(pixels: Any) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()
