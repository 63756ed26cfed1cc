"""From a fraud probability to the answer a fraud team acts on."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from aiaas_finance.schemas import FraudAssessment, ReasonCode

if TYPE_CHECKING:
    import pandas as pd

    from aiaas import Batch, Pipeline

ELEVATED, HIGHEST = 950, 990
"""Risk-score band edges: the top 5% and top 1% of legitimate validation traffic."""
TOP_REASONS = 3

REASON_CODES: dict[str, str] = {
    "R01": "transaction amount",
    "R02": "amount compared with the customer's 30-day average",
    "R03": "customer's recent spending",
    "R04": "number of the customer's recent transactions",
    "R05": "time since the customer's previous transaction",
    "R06": "time of day and day of week",
    "R07": "merchant country",
    "R08": "how the card was used (present, online, ATM)",
    "R09": "merchant category",
    "R10": "currency",
}
FEATURE_CODES: dict[str, str] = {
    "amount": "R01", "amount_to_avg_30d": "R02",
    "customer_avg_amount_1d": "R03", "customer_avg_amount_7d": "R03", "customer_avg_amount_30d": "R03",
    "customer_tx_count_1d": "R04", "customer_tx_count_7d": "R04", "customer_tx_count_30d": "R04",
    "hours_since_previous": "R05", "timestamp": "R06", "country": "R07", "channel": "R08", "card_present": "R08",
    "merchant_category": "R09", "currency": "R10",
}


def reason_for(feature: str) -> tuple[str, str]:
    """(code, description); a team's own column gets a code naming it."""
    code = FEATURE_CODES.get(feature)
    return (code, REASON_CODES[code]) if code else (f"X:{feature}", f"value of {feature}")


class FraudAnswer:
    def fit(self, pipeline: Pipeline, records: pd.DataFrame, probabilities: np.ndarray, y: np.ndarray) -> dict[str, Any]:
        """Keep a sorted sample of validation negatives' probabilities: a risk score is
        the share of legitimate traffic that scores below a transaction."""
        negatives = np.sort(probabilities[y == 0])
        if len(negatives) > 2000:
            negatives = negatives[np.linspace(0, len(negatives) - 1, 2000).astype(int)]
        return {"negatives": negatives.round(8).tolist()}

    def risk_scores(self, probabilities: np.ndarray, state: dict[str, Any]) -> np.ndarray:
        negatives = np.asarray(state["negatives"])
        if len(negatives) == 0:
            return np.round(probabilities * 1000).astype(int)
        return np.floor(1000 * np.searchsorted(negatives, probabilities, side="left") / len(negatives)).astype(int)

    def answer(self, batch: Batch) -> list[FraudAssessment]:
        pipeline = batch.pipeline
        p = batch.probabilities
        scores = self.risk_scores(p, pipeline.post_state)
        threshold = pipeline.threshold
        answers = []
        for i, explanation in enumerate(batch.explanations):
            band = "highest" if scores[i] >= HIGHEST else "elevated" if scores[i] >= ELEVATED else "normal"
            decision = "block" if p[i] >= threshold else "review" if band != "normal" else "approve"
            pushing_up = [a for a in explanation["attributions"] if a["contribution"] > 1e-4][:TOP_REASONS]
            reasons = [
                ReasonCode(code=reason_for(a["feature"])[0], feature=a["feature"], description=reason_for(a["feature"])[1],
                           value=a["value"], contribution=round(a["contribution"], 6))
                for a in pushing_up
            ]
            answers.append(FraudAssessment(fraud_probability=round(float(p[i]), 6), risk_score=int(scores[i]), band=band,
                                           decision=decision, threshold=round(threshold, 6), reasons=reasons))
        return answers
