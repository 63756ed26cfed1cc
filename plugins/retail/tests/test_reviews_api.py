"""The review APIs: labels, stars, truncation, the words that drove an answer, bad input."""

from __future__ import annotations

from .conftest import RATING, SENTIMENT, Trained

GOOD = "I love the sound, it is absolutely perfect and worth every penny!"
BAD = "Terrible. The battery broke after two days, complete waste of money."


def _post(trained: Trained, task: str, route: str, body: dict) -> dict:
    response = trained.client().post(f"/v1/{task}/{route}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_sentiment_answers_label_probabilities_and_confidence(trained: Trained) -> None:
    answers = _post(trained, SENTIMENT, "predict", {"instances": [{"text": GOOD}, {"text": BAD, "title": "Do not buy"}]})["predictions"]
    assert [a["label"] for a in answers] == ["positive", "negative"]
    for a in answers:
        assert set(a["probabilities"]) == {"negative", "neutral", "positive"} and abs(sum(a["probabilities"].values()) - 1) < 1e-5
        assert a["confidence"] == a["probabilities"][a["label"]] and a["stars"] is None
        assert a["words"] is None and a["truncated"] is False and a["max_tokens"] == 40


def test_explain_true_adds_the_driving_words(trained: Trained) -> None:
    (answer,) = _post(trained, SENTIMENT, "predict", {"instances": [{"text": BAD}], "explain": True})["predictions"]
    top = [w["word"] for w in answer["words"][:4]]
    assert set(top) & {"terrible", "waste", "broke"}, answer["words"]
    assert answer["words"][0]["weight"] > 0  # pushed towards "negative", the answered label
    (explanation,) = _post(trained, SENTIMENT, "explain", {"instances": [{"text": GOOD}]})["explanations"]
    assert explanation["method"] == "integrated-gradients" and explanation["label"] == "positive"
    assert [w["word"] for w in explanation["words"]][:3] == ["i", "love", "the"]  # every word, in text order


def test_long_reviews_are_truncated_and_say_so(trained: Trained) -> None:
    long = " ".join([GOOD] * 10)
    (answer,) = _post(trained, SENTIMENT, "predict", {"instances": [{"text": long}]})["predictions"]
    assert answer["truncated"] is True and answer["tokens"] > answer["max_tokens"] == 40 and answer["label"] == "positive"


def test_rating_answers_stars(trained: Trained) -> None:
    answers = _post(trained, RATING, "predict", {"instances": [{"text": GOOD}, {"text": BAD}]})["predictions"]
    assert set(answers[0]["probabilities"]) == {"1", "2", "3", "4", "5"}
    assert answers[0]["stars"] > 3.5 > 2.5 > answers[1]["stars"] >= 1
    assert answers[0]["label"] in ("4", "5") and answers[1]["label"] in ("1", "2")


def test_bad_reviews_get_a_422_naming_the_field(trained: Trained) -> None:
    client = trained.client()
    cases = [
        ({"instances": [{"text": "   "}]}, ["body", "instances", 0, "text"]),
        ({"instances": [{"title": "no text"}]}, ["body", "instances", 0, "text"]),
        ({"instances": [{"text": "ok", "rating": 9}]}, ["body", "instances", 0, "rating"]),
        ({"instances": [{"text": "ok"}], "explain": "yes"}, ["body", "explain"]),
    ]
    for body, loc in cases:
        response = client.post(f"/v1/{SENTIMENT}/predict", json=body)
        assert response.status_code == 422, response.text
        assert response.json()["detail"][0]["loc"] == loc


def test_the_trained_models_beat_a_bar(trained: Trained) -> None:
    assert trained["sentiment"].metrics["accuracy"] > 0.8, trained["sentiment"].metrics
    assert trained["rating"].metrics["quadratic_weighted_kappa"] > 0.8 and trained["rating"].metrics["off_by_one_accuracy"] > 0.9, trained["rating"].metrics
