"""Declared query parameters of the live apps, and the one parser both sides use.

An app declares what it accepts (``IntParam("N", default=200, minimum=10, maximum=2000)``);
Flask validates a page's query string against the declaration before it pulls a session, and
the app validates the same way when a visitor opens it standalone on the Bokeh server. No Bokeh
or Flask import here, so the rules are unit-testable and identical on both sides.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

# Raw values echoed back in error messages are cut short: a query string is attacker-controlled.
_MAX_ECHO = 40


class InvalidArgument(ValueError):
    """A query argument that is undeclared, repeated, malformed or out of bounds."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message


def _echo(text: str) -> str:
    return repr(text if len(text) <= _MAX_ECHO else text[:_MAX_ECHO] + "…")


@dataclass(frozen=True)
class IntParam:
    """An integer argument within ``minimum..maximum`` (both inclusive)."""

    name: str
    default: int
    minimum: int
    maximum: int
    help: str = ""

    kind = "integer"

    @property
    def allowed(self) -> str:
        return f"an integer from {self.minimum} to {self.maximum}"

    def parse(self, text: str) -> int:
        try:
            value = int(text.strip(), 10)
        except ValueError:
            raise InvalidArgument(self.name, f"must be {self.allowed}, not {_echo(text)}") from None
        if not self.minimum <= value <= self.maximum:
            raise InvalidArgument(self.name, f"must be {self.allowed}, not {value}")
        return value


@dataclass(frozen=True)
class FloatParam:
    """A finite number within ``minimum..maximum`` (both inclusive)."""

    name: str
    default: float
    minimum: float
    maximum: float
    help: str = ""

    kind = "number"

    @property
    def allowed(self) -> str:
        return f"a number from {self.minimum:g} to {self.maximum:g}"

    def parse(self, text: str) -> float:
        try:
            value = float(text.strip())
        except ValueError:
            raise InvalidArgument(self.name, f"must be {self.allowed}, not {_echo(text)}") from None
        if not math.isfinite(value) or not self.minimum <= value <= self.maximum:
            raise InvalidArgument(self.name, f"must be {self.allowed}, not {_echo(text)}")
        return value


@dataclass(frozen=True)
class ChoiceParam:
    """One of a fixed set of strings."""

    name: str
    default: str
    choices: tuple[str, ...]
    help: str = ""

    kind = "choice"

    def __post_init__(self) -> None:
        if self.default not in self.choices:
            raise ValueError(f"default {self.default!r} of {self.name!r} is not one of its choices")

    @property
    def allowed(self) -> str:
        return "one of " + ", ".join(self.choices)

    def parse(self, text: str) -> str:
        if text not in self.choices:
            raise InvalidArgument(self.name, f"must be {self.allowed}, not {_echo(text)}")
        return text


@dataclass(frozen=True)
class TextParam:
    """A single line of text of at most ``max_length`` characters (control characters refused)."""

    name: str
    default: str
    max_length: int
    help: str = ""

    kind = "text"

    @property
    def allowed(self) -> str:
        return f"a line of text of at most {self.max_length} characters"

    def parse(self, text: str) -> str:
        if len(text) > self.max_length:
            raise InvalidArgument(self.name, f"must be {self.allowed}, not {len(text)} characters")
        if any(not character.isprintable() for character in text):
            raise InvalidArgument(self.name, f"must be {self.allowed}, without control characters")
        return text


Param = IntParam | FloatParam | ChoiceParam | TextParam


def parse_arguments(params: Sequence[Param], raw: Mapping[str, Sequence[str]]) -> dict[str, object]:
    """Turn raw query values (name -> list of strings) into typed values, defaults filled in.

    Raises ``InvalidArgument`` for the first undeclared, repeated or invalid argument, in a stable
    order so the message a visitor sees does not depend on dict ordering.
    """
    declared = {param.name: param for param in params}
    for name in sorted(raw):
        if name not in declared:
            takes = ", ".join(declared) if declared else "none"
            raise InvalidArgument(_echo(name)[1:-1], f"is not an argument of this app (it takes: {takes})")
    values: dict[str, object] = {}
    for param in params:
        given = raw.get(param.name) or []
        if len(given) > 1:
            raise InvalidArgument(param.name, "is given more than once")
        values[param.name] = param.parse(given[0]) if given else param.default
    return values


def describe(param: Param) -> dict[str, object]:
    """A JSON-ready description of a declared parameter, for the catalog API and the gallery."""
    described: dict[str, object] = {
        "name": param.name,
        "type": param.kind,
        "default": param.default,
        "allowed": param.allowed,
        "help": param.help,
    }
    if isinstance(param, ChoiceParam):
        described["choices"] = list(param.choices)
    elif isinstance(param, TextParam):
        described["max_length"] = param.max_length
    else:
        described["minimum"] = param.minimum
        described["maximum"] = param.maximum
    return described
