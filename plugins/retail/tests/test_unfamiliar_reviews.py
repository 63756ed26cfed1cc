"""Reviews unlike the training reviews are flagged with the reason, not answered with false confidence."""

from __future__ import annotations

from .conftest import SENTIMENT, Trained

ORDINARY = "Terrible. The battery broke after two days, complete waste of money."


def _checks(trained: Trained, texts: list[str]) -> list[dict]:
    response = trained.client().post(f"/v1/{SENTIMENT}/predict", json={"instances": [{"text": t} for t in texts]})
    assert response.status_code == 200, response.text
    answers = response.json()["predictions"]
    assert all("label" in a for a in answers)  # flagged reviews are still answered, with the flag
    return [a["input_check"] for a in answers]


def test_an_ordinary_review_is_in_distribution(trained: Trained) -> None:
    (check,) = _checks(trained, [ORDINARY])
    assert check["in_distribution"] and check["reasons"] == [] and check["novelty"] <= check["threshold"]


def test_emoji_or_symbols_only_have_no_words(trained: Trained) -> None:
    for check in _checks(trained, ["😀😀😀👍", "!!! ??? ...", "10/10 ★★★★★"]):
        assert not check["in_distribution"] and check["reasons"] == ["no words (only symbols, digits or emoji)"]


def test_a_review_in_another_language_is_flagged_naming_it(trained: Trained) -> None:
    german, japanese = _checks(trained, [
        "Das Produkt ist nach zwei Tagen kaputt gegangen, der Akku hält überhaupt nicht. Sehr enttäuscht, nie wieder!",
        "このヘッドホンはとても良いです。音質が素晴らしく、バッテリーも長持ちします。",
    ])
    assert not german["in_distribution"] and any(r.startswith("language de, the model was trained on en") for r in german["reasons"])
    assert not japanese["in_distribution"] and any(r.startswith("language ja") for r in japanese["reasons"])


def test_a_review_of_unknown_words_says_how_few_were_known(trained: Trained) -> None:
    (check,) = _checks(trained, ["Zorblax quindle frumptious wibbleton snarfle glorptastic the blimber."])
    assert not check["in_distribution"]
    assert any(r.endswith("of its words are known from training") for r in check["reasons"]), check
