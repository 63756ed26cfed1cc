"""Risk score, band, decision and reason codes from probabilities and attributions."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from aiaas_finance.answer import FraudAnswer, reason_for


def test_risk_score_is_the_share_of_legitimate_traffic_scoring_lower() -> None:
    answer = FraudAnswer()
    y = np.array([0] * 1000 + [1] * 10)
    p = np.concatenate([np.linspace(0, 0.5, 1000), np.full(10, 0.9)])
    state = answer.fit(None, pd.DataFrame(), p, y)  # type: ignore[arg-type]
    assert len(state["negatives"]) == 1000
    scores = answer.risk_scores(np.array([0.0, 0.25, 0.4975, 0.6]), state)
    assert scores.tolist() == [0, 500, 995, 1000]


def _batch(probabilities: list[float], contributions: list[list[float]], threshold: float) -> SimpleNamespace:
    explanations = [{"attributions": [{"feature": f, "value": 1.0, "contribution": c}
                                      for f, c in sorted(zip(["amount", "country", "V7", "channel"], row), key=lambda fc: -abs(fc[1]))]}
                    for row in contributions]
    pipeline = SimpleNamespace(post_state={"negatives": list(np.linspace(0, 0.5, 1000))}, threshold=threshold)
    return SimpleNamespace(probabilities=np.array(probabilities), explanations=explanations, pipeline=pipeline)


def test_bands_decisions_and_reasons() -> None:
    answers = FraudAnswer().answer(_batch(
        [0.1, 0.49, 0.55, 0.8],
        [[0.0, 0.0, 0.0, 0.0], [0.01, -0.2, 0.0, 0.0], [0.2, 0.1, 0.05, 0.01], [0.3, 0.2, -0.4, 0.1]],
        threshold=0.7,
    ))
    assert [(a.band, a.decision) for a in answers] == [("normal", "approve"), ("elevated", "review"), ("highest", "review"), ("highest", "block")]
    assert answers[0].reasons == []
    assert [r.feature for r in answers[1].reasons] == ["amount"]  # only what pushed the score up
    assert [(r.code, r.feature) for r in answers[2].reasons] == [("R01", "amount"), ("R07", "country"), ("X:V7", "V7")]
    assert [r.feature for r in answers[3].reasons] == ["amount", "country", "channel"]
    assert reason_for("customer_avg_amount_7d") == ("R03", "customer's recent spending")
