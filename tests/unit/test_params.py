"""Query-argument declarations and parsing, shared by Flask and the apps."""

import pytest

from aperture.params import ChoiceParam, FloatParam, IntParam, InvalidArgument, describe, parse_arguments

POINTS = IntParam("N", default=200, minimum=10, maximum=2000)
SCALE = FloatParam("scale", default=1.0, minimum=0.5, maximum=2.0)
FEATURE = ChoiceParam("feature", default="a", choices=("a", "b"))
PARAMS = (POINTS, SCALE, FEATURE)


def test_defaults_fill_in_missing_arguments():
    assert parse_arguments(PARAMS, {}) == {"N": 200, "scale": 1.0, "feature": "a"}


def test_values_are_typed():
    assert parse_arguments(PARAMS, {"N": ["10"], "scale": ["2"], "feature": ["b"]}) == {
        "N": 10,
        "scale": 2.0,
        "feature": "b",
    }


@pytest.mark.parametrize(
    ("raw", "name", "fragment"),
    [
        ({"N": ["9"]}, "N", "an integer from 10 to 2000, not 9"),
        ({"N": ["2001"]}, "N", "not 2001"),
        ({"N": ["ten"]}, "N", "not 'ten'"),
        ({"N": ["1.5"]}, "N", "an integer"),
        ({"N": ["10", "20"]}, "N", "more than once"),
        ({"scale": ["nan"]}, "scale", "a number from 0.5 to 2"),
        ({"scale": ["inf"]}, "scale", "a number"),
        ({"feature": ["c"]}, "feature", "one of a, b, not 'c'"),
        ({"colour": ["red"]}, "colour", "is not an argument of this app (it takes: N, scale, feature)"),
    ],
)
def test_invalid_arguments_name_the_argument_and_what_is_allowed(raw, name, fragment):
    with pytest.raises(InvalidArgument) as caught:
        parse_arguments(PARAMS, raw)
    assert caught.value.name == name
    assert fragment in caught.value.message


def test_an_app_without_parameters_refuses_any_argument():
    with pytest.raises(InvalidArgument, match="it takes: none"):
        parse_arguments((), {"x": ["1"]})


def test_long_values_are_cut_short_in_messages():
    with pytest.raises(InvalidArgument) as caught:
        parse_arguments(PARAMS, {"N": ["x" * 500]})
    assert len(caught.value.message) < 120


def test_choice_default_must_be_a_choice():
    with pytest.raises(ValueError, match="not one of its choices"):
        ChoiceParam("feature", default="z", choices=("a", "b"))


def test_describe_is_json_ready():
    assert describe(POINTS) == {
        "name": "N",
        "type": "integer",
        "default": 200,
        "allowed": "an integer from 10 to 2000",
        "help": "",
        "minimum": 10,
        "maximum": 2000,
    }
    assert describe(FEATURE)["choices"] == ["a", "b"]
