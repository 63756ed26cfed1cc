"""The console's Try it form, without a browser: fields from a JSON schema, and an instance from a post."""

from __future__ import annotations

from pydantic import BaseModel, Field

from aiaas.console.tryit import form_fields, instance


class Claim(BaseModel):
    amount: float = Field(description="how much is claimed")
    years: int = Field(ge=0, le=80)
    region: str = Field(json_schema_extra={"enum": ["north", "south"]})
    urgent: bool = False
    note: str | None = Field(default=None, max_length=5000)
    history: list[dict[str, int]] = []


def test_fields_follow_the_schema_and_a_post_becomes_an_instance() -> None:
    fields = form_fields(Claim.model_json_schema(), {"amount": 12.5, "region": "south", "history": [{"n": 1}]})
    assert [(f.name, f.kind, f.required) for f in fields] == [
        ("amount", "number", True), ("years", "integer", True), ("region", "choice", True), ("urgent", "boolean", False),
        ("note", "textbox", False), ("history", "json", False)]
    assert (fields[0].value, fields[2].choices, fields[5].value) == ("12.5", ["north", "south"], '[{"n": 1}]')
    made, problems = instance(fields, {"amount": "12.5", "years": "3.0", "region": "north", "urgent": "true", "note": "", "history": '[{"n": 2}]'})
    assert problems == [] and made == {"amount": 12.5, "years": 3, "region": "north", "urgent": True, "history": [{"n": 2}]}
    assert Claim.model_validate(made).years == 3  # what the route will validate


def test_a_value_a_person_can_fix_is_named_not_sent() -> None:
    fields = form_fields(Claim.model_json_schema())
    _, problems = instance(fields, {"amount": "nan", "years": "2.5", "region": "north", "history": "[{oops"})
    assert problems[0] == "amount: 'nan' is not a number" and problems[1] == "years: '2.5' is not a whole number"
    assert problems[2].startswith("history: not JSON")
