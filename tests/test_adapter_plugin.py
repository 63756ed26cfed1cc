"""A plugin that only adds a data adapter to another plugin's task, as docs/adding-a-data-adapter.md
writes it: the kit's PluginContract passes for it, and training through the adapter serves."""

from __future__ import annotations

import json
import types
from pathlib import Path

import pandas as pd
import pytest

import aiaas
from aiaas import Dataset, InvalidInput, LoadOptions
from aiaas.plugins import Host
from aiaas.registry import Registry
from aiaas.testing import PluginContract


def load_reviews(path: Path, options: LoadOptions) -> Dataset:  # the guide's adapter
    rows = []
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError as exc:
            raise InvalidInput(f"{path}: line {number} is not JSON ({exc.msg})") from None
    if not rows or any("body" not in r for r in rows):
        raise InvalidInput(f"{path}: every line needs a 'body'")
    records = pd.DataFrame({"title": [r.get("headline") or "" for r in rows], "text": [r["body"] for r in rows]})
    labels = pd.Series([str(r["stars"]) for r in rows], name="rating") if options.labelled else None
    return Dataset(records, labels, Path(path))


def shopfeed() -> types.ModuleType:
    module = types.ModuleType("aiaas_shopfeed")
    module.AIAAS_API = ">=1.1,<2"  # type: ignore[attr-defined]

    @aiaas.hookimpl
    def register_data_adapters() -> list[aiaas.DataAdapter]:
        return [aiaas.DataAdapter(name="shopfeed.reviews-jsonl", task="retail/review-rating", load=load_reviews, suffixes=(".jsonl",),
                                  description="the shop platform's review export: headline, body, stars")]

    module.register_data_adapters = register_data_adapters  # type: ignore[attr-defined]
    return module


def to_export(sample: Path) -> Path:
    reviews = pd.read_csv(sample)
    out = sample.with_name("export.jsonl")
    out.write_text("".join(json.dumps({"headline": t if isinstance(t, str) else None, "body": x, "stars": int(s)}) + "\n"
                           for t, x, s in zip(reviews["title"], reviews["text"], reviews["rating"])))
    return out


class TestShopfeed(PluginContract):
    plugin = "shopfeed"

    @pytest.fixture(scope="class")
    @classmethod
    def host(cls) -> Host:  # not pip-installed here: registered next to the installed verticals
        host = Host()
        host.register_plugin("shopfeed", shopfeed())
        return host

    def adapter_sample(self, adapter: aiaas.DataAdapter, sample: Path) -> Path:
        return to_export(sample)

    def test_entry_point_loads(self, host: Host) -> None:
        assert host.plugins["shopfeed"].status == "ok", host.plugins["shopfeed"].reason

    def test_importing_the_plugin_imports_no_framework(self) -> None:
        pytest.skip("the plugin is a module of this test, not an installed package")


def test_training_through_the_adapter_serves_on_the_tasks_routes(aiaas_host, aiaas_train, aiaas_client, tmp_path: Path) -> None:  # noqa: ANN001
    from aiaas_retail.simulator import write_sample  # the test, not the plugin, uses the retail plugin's sample

    host = aiaas_host(entry_points=True, shopfeed=shopfeed())
    data = to_export(write_sample(tmp_path / "reviews", 400, seed=0))
    result = aiaas_train(aiaas.TrainRequest("retail/review-rating", data, architecture="tfidf-linear", adapter="shopfeed.reviews-jsonl",
                                            promote=True, force=True), host=host)
    manifest = json.loads((Registry.from_settings().folder(result.version) / "manifest.json").read_text())
    assert manifest["adapter"] == "shopfeed.reviews-jsonl"
    answer = aiaas_client(host).post("/v1/retail/review-rating/predict", json={"instances": [{"text": "Broke after a day. Awful."}]})
    assert answer.status_code == 200 and answer.json()["predictions"][0]["label"] in {"1", "2", "3", "4", "5"}
