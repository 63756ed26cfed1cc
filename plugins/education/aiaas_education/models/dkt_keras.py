"""Deep knowledge tracing on Keras: an embedding of (skill, correct) per answer, an LSTM
over the answers, and a logit for the queried skill from the state before each step.

Two small layers, registered so a saved ``.keras`` file loads in safe mode. The state
"before step t" is the LSTM state after ``min(t, answers)`` answers, so steps that ask
about a skill after the whole history (no answer of their own) all read the final
state; step 0 reads a zero state, where the per-skill bias is the population prior.
"""

from __future__ import annotations

from typing import Any

import keras
from keras import ops

from aiaas import ModelSpec


@keras.saving.register_keras_serializable(package="aiaas_education")
class AnswerEmbedding(keras.layers.Layer):
    """(skill id, correct) -> a vector; padding (skill 0) -> zeros."""

    def __init__(self, skills: int, dimension: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skills, self.dimension = skills, dimension

    def build(self, *shapes: Any) -> None:
        self.table = self.add_weight(shape=(2 * self.skills, self.dimension), initializer="uniform", name="table")

    def call(self, skill: Any, correct: Any) -> Any:
        ids = ops.cast(skill, "int32") * 2 + ops.cast(correct, "int32")
        real = ops.cast(ops.expand_dims(skill > 0, -1), self.compute_dtype)
        return ops.take(self.table, ids, axis=0) * real

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "skills": self.skills, "dimension": self.dimension}


@keras.saving.register_keras_serializable(package="aiaas_education")
class QueriedSkillLogit(keras.layers.Layer):
    """The logit for each step's queried skill, from the state before that step."""

    def __init__(self, skills: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.skills = skills

    def build(self, states_shape: Any, *shapes: Any) -> None:
        hidden = int(states_shape[-1])
        self.weights_per_skill = self.add_weight(shape=(self.skills, hidden), initializer="glorot_uniform", name="skill_weights")
        self.bias = self.add_weight(shape=(self.skills,), initializer="zeros", name="skill_bias")

    def call(self, states: Any, skill: Any, query: Any) -> Any:
        answers = ops.sum(ops.cast(skill > 0, "int32"), axis=1, keepdims=True)
        steps = ops.shape(query)[1]
        before = ops.concatenate([ops.zeros_like(states[:, :1, :]), states], axis=1)
        index = ops.minimum(ops.expand_dims(ops.arange(steps, dtype="int32"), 0), answers)
        used = ops.take_along_axis(before, ops.expand_dims(index, -1), axis=1)
        query = ops.cast(query, "int32")
        return ops.sum(used * ops.take(self.weights_per_skill, query, axis=0), axis=-1) + ops.take(self.bias, query, axis=0)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "skills": self.skills}


def build(spec: ModelSpec, params: dict[str, Any]) -> keras.Model:
    skills = int(spec.hints["skills"])
    inputs = {name: keras.Input(shape=(None,), dtype="int32", name=name) for name in ("skill", "correct", "query")}
    x = AnswerEmbedding(skills, int(params.get("embedding", 64)))(inputs["skill"], inputs["correct"])
    x = keras.layers.Dropout(float(params.get("dropout", 0.2)))(x)
    states = keras.layers.LSTM(int(params.get("hidden", 128)), return_sequences=True)(x)
    states = keras.layers.Dropout(float(params.get("dropout", 0.2)))(states)
    logits = QueriedSkillLogit(skills)(states, inputs["skill"], inputs["query"])
    return keras.Model(inputs, logits, name="dkt")
