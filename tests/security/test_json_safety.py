"""portal.json_safety: JSON a person typed is refused, saying what and where, when the database,
Genesys or a JSON consumer could not take it; everything else passes unchanged."""

from __future__ import annotations

import json

import pytest
from django.forms.fields import InvalidJSONInput

from portal.json_safety import (
    MAX_DEPTH,
    MAX_SAFE_INTEGER,
    SafeJSONFormField,
    UnsafeJSON,
    json_loads_checked,
    json_value_check,
    unstorable_character,
)


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '{"order_id_text": "A-17", "amount_number": 49.9, "tags": ["vip", null, true]}',
        f"[{MAX_SAFE_INTEGER}, -{MAX_SAFE_INTEGER}, 1.5e300, -0.0, 1e-400]",
        '"\\u00e9t\\u00e9 \\ud83d\\ude00"',  # accents and a paired surrogate (an emoji)
        nested(MAX_DEPTH),
    ],
)
def test_ordinary_json_passes_unchanged(text):
    assert json_loads_checked(text) == json.loads(text)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "{",
            "is not valid JSON (Expecting property name enclosed in double quotes at character 2)",
        ),
        ("NaN", "holds NaN, which JSON does not allow; use a number or null"),
        ('{"a": [1, Infinity]}', "holds Infinity at $.a[1], which JSON does not allow"),
        ('{"a": -Infinity}', "holds -Infinity at $.a, which JSON does not allow"),
        ('{"x": {"y": 1e400}}', "holds the number 1e400 at $.x.y, which is out of range"),
        ("[-1e999]", "holds the number -1e999 at $[0], which is out of range"),
        (f"[{MAX_SAFE_INTEGER + 1}]", f"holds the integer {MAX_SAFE_INTEGER + 1} at $[0], beyond"),
        ("[" + "9" * 5000 + "]", "holds the integer 99999999999999999999… (5000 digits) at $[0]"),
        ('{"note": "a\\u0000b"}', "holds a NUL character (\\u0000) at $.note; remove it"),
        (
            '{"a b": {"c\\u0000": 1}}',
            'has a NUL character (\\u0000) in the key at $["a b"]["c\\u0000"]',
        ),
        ('["\\udc00"]', "holds an unpaired surrogate (\\udc00) at $[0]"),
        (nested(MAX_DEPTH + 1), f"is nested more than {MAX_DEPTH} levels deep at $" + "[0]" * 32),
        (nested(5000), f"is nested more than {MAX_DEPTH} levels deep"),
        (nested(100_000), f"is nested more than {MAX_DEPTH} levels deep"),
    ],
)
def test_unsafe_json_is_refused_saying_what_and_where(text, message):
    with pytest.raises(UnsafeJSON) as refused:
        json_loads_checked(text)
    assert str(refused.value).startswith(message)


def test_the_first_problem_in_document_order_is_reported():
    with pytest.raises(UnsafeJSON, match=r"at \$\.a\[0\]"):
        json_loads_checked('{"a": [NaN, "\\u0000"], "b": Infinity}')


def test_messages_are_storable_whatever_the_input_held():
    for text in ('{"\\u0000\\ud800": NaN}', '{"k\\u0000": 1}', '["\\ud800"]'):
        with pytest.raises(UnsafeJSON) as refused:
            json_loads_checked(text)
        assert unstorable_character(str(refused.value)) is None
        str(refused.value).encode("utf-8")


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": float("nan")}, "holds nan at $.a"),
        ([float("inf")], "holds inf at $[0]"),
        ({"n": 2**64}, "holds the integer 18446744073709551616 at $.n"),
        ({"s": "\x00"}, "holds a NUL character"),
        ({"d": object()}, "holds a value of type object at $.d, not JSON"),
    ],
)
def test_parsed_values_are_checked_the_same_way(value, problem):
    with pytest.raises(UnsafeJSON, match=problem.replace("$", r"\$").replace("[", r"\[")):
        json_value_check(value)


def test_true_and_false_are_not_numbers_out_of_range():
    json_value_check({"a": True, "b": False, "c": None})


def test_the_form_field_refuses_with_a_sentence_and_redisplays_what_was_typed():
    field = SafeJSONFormField(required=False)
    with pytest.raises(Exception) as refused:
        field.clean('{"a": NaN}')
    assert refused.value.messages == [
        "This holds NaN at $.a, which JSON does not allow; use a number or null."
    ]
    deep = nested(5000)
    assert isinstance(field.bound_data(deep, None), InvalidJSONInput)  # shown again, no 500
    assert field.clean("") is None
    assert field.clean('{"a": 1}') == {"a": 1}
