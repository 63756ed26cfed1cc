"""The plugin contract every aiaas plugin passes (aiaas.testing.PluginContract)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aiaas import DataAdapter
from aiaas.testing import PluginContract, TrainedModels


class TestEducationPlugin(PluginContract):
    plugin = "education"
    sample_rows = 4000  # answers: about 65 learners

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls, trained: TrainedModels) -> TrainedModels:
        return trained  # the models this plugin's own tests train

    def adapter_sample(self, adapter: DataAdapter, sample: Path) -> Path | None:
        if adapter.name == "education.dkt-lines":  # per learner: a count, skill ids, 0/1 results
            answers = pd.read_csv(sample)
            lines = []
            for _, steps in answers.groupby("user_id", sort=False):
                lines += [str(len(steps)), ",".join(steps["skill"].astype(str)), ",".join(steps["correct"].astype(str))]
            path = sample.with_name("dkt-lines.txt")
            path.write_text("\n".join(lines) + "\n")
            return path
        return super().adapter_sample(adapter, sample)

    def instances(self, task, records: pd.DataFrame) -> list[dict]:  # noqa: ANN001
        """A learner's history as the API takes it (one answer per step), and the question asked next."""
        return [{"learner": str(r["learner"]), "history": [{"skill": str(s), "correct": int(c)} for s, c in zip(r["skill"][:-1], r["correct"])],
                 "next": {"skill": str(r["skill"][-1])}} for r in records.to_dict(orient="records")]
