"""The plugin contract every aiaas plugin passes (aiaas.testing.PluginContract)."""

from __future__ import annotations

import pytest

from aiaas.testing import PluginContract, TrainedModels


class TestFinancePlugin(PluginContract):
    plugin = "finance"
    sample_rows = 6000  # fewer fraud cases make single columns look like leaks to the data checks

    @pytest.fixture(scope="class")
    @classmethod
    def served(cls, trained: TrainedModels) -> TrainedModels:
        return trained  # the models this plugin's own tests train
