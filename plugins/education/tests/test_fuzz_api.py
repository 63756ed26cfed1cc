"""schemathesis over the whole service as installed, with a knowledge-tracing model serving:
predict, explain, feedback and the learner routes of every task; no server error, and
answers fit their schema."""

from __future__ import annotations

from aiaas.testing import TrainedModels


def test_the_installed_service_survives_the_fuzzer(trained: TrainedModels) -> None:
    tried = trained.fuzz()
    assert any("learners/{learner}/answers" in label for label in tried)
