"""Decimal parsing, formatting and rounding: money is Decimal, never float."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

#: Largest magnitude accepted for any price or quantity. Anything larger is a typo or an attack (1e400).
MAX_MAGNITUDE = Decimal("1e15")
#: Smallest exponent accepted (1e-18 is finer than any venue's tick or step).
MIN_EXPONENT = -18


#: The one grammar for a typed number (console fields, CLI flags, JSON strings): digits with at most one dot,
#: an optional exponent within ±MAX_EXPONENT_TEXT, and a leading sign only where the field allows one.
#: No commas, underscores, spaces inside, NaN/Infinity, hex or any other spelling Python's Decimal would take.
_NUMBER = re.compile(r"(?P<sign>[+-]?)(?P<body>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:[eE](?P<exp>[+-]?[0-9]+))?")
#: Exponents beyond this are refused before any arithmetic (1e1000000 must never reach Decimal's context).
MAX_EXPONENT_TEXT = 30


class NumberError(ValueError):
    """A typed number that does not follow the grammar; the message names the field and the reason."""


class OutOfRangeNumber:
    """A JSON number literal whose exponent is out of range (json's `parse_float` hook returns this instead of
    building a Decimal that would overflow later): a Dec field refuses it naming itself, any other field refuses
    it for its type."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text

    def __repr__(self) -> str:
        return self.text


def json_number(text: str) -> Decimal | OutOfRangeNumber:
    """`parse_float` hook for json.loads: an exact Decimal, or OutOfRangeNumber when the literal would overflow."""
    return OutOfRangeNumber(text) if _text_problem(text, signed=True) else Decimal(text)


def _text_problem(raw: str, *, signed: bool) -> str | None:
    """Why `raw` (already stripped) is not a number of the grammar, or None when it is."""
    if not raw:
        return "a number is required"
    if len(raw) > 64:
        return f"{raw[:20]!r}... is too long for a number (at most 64 characters)"
    if "," in raw:
        return f"{raw!r} has a comma; use a dot for decimals (0.5, not 0,5) and no thousands separators"
    m = _NUMBER.fullmatch(raw)
    if m is None:
        if "_" in raw:
            return f"{raw!r} has an underscore; type plain digits (1000, not 1_000)"
        return f"{raw!r} is not a number (digits, one dot, optional exponent like 1e-3)"
    if m.group("sign") and not signed:
        return f"{raw!r} has a sign; this field takes a plain magnitude (no + or -)"
    exp = m.group("exp")
    if exp is not None and (len(exp.lstrip("+-")) > 4 or abs(int(exp)) > MAX_EXPONENT_TEXT):
        return f"exponent {exp} in {raw!r} is out of range (at most ±{MAX_EXPONENT_TEXT})"
    return None


def parse_number_text(text: str, field: str, *, signed: bool = False) -> Decimal:
    """Parse a typed number strictly, or raise NumberError naming `field`.

    `signed=False` refuses a leading '+' or '-' (a sign there would change the meaning: '+0.5' is not a target).
    The result is also held to MAX_MAGNITUDE and MIN_EXPONENT like every JSON number."""
    try:
        return _parse_text(text, signed=signed)
    except ValueError as exc:
        raise NumberError(f"{field}: {exc}") from None


def _parse_text(text: str, *, signed: bool) -> Decimal:
    raw = text.strip()
    problem = _text_problem(raw, signed=signed)
    if problem is not None:
        raise ValueError(problem)
    return _checked(Decimal(raw), raw)


def _parse(value: Any, *, signed: bool) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("expected a decimal number, got a boolean")
    if isinstance(value, OutOfRangeNumber):
        raise ValueError(_text_problem(value.text, signed=True) or f"{value.text} is out of range")
    if isinstance(value, str):
        return _parse_text(value, signed=signed)
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        if abs(value) >= MAX_MAGNITUDE:
            raise ValueError(f"{value} is out of range (magnitude must be below {MAX_MAGNITUDE:f})")
        d = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number (NaN and Infinity are refused)")
        d = Decimal(repr(value))
    else:
        raise ValueError(f"expected a decimal number, got {type(value).__name__}")
    return _checked(d, value)


def _checked(d: Decimal, shown: Any) -> Decimal:
    if not d.is_finite():
        raise ValueError("must be a finite number (NaN and Infinity are refused)")
    exp = d.as_tuple().exponent
    if d != 0 and isinstance(exp, int) and d.adjusted() >= MAX_MAGNITUDE.adjusted():
        raise ValueError(f"{shown!s} is out of range (magnitude must be below {MAX_MAGNITUDE:f})")
    if isinstance(exp, int) and exp < MIN_EXPONENT:
        digits = d.as_tuple().digits
        below = digits[max(0, len(digits) - (MIN_EXPONENT - exp)):]  # the digits finer than 1e-18
        if any(below):
            raise ValueError(f"{shown!s} has more than {-MIN_EXPONENT} decimal places")
    return d


def parse_decimal(value: Any) -> Decimal:
    """Turn JSON input into a Decimal, or raise ValueError in words: a string follows the typed-number grammar
    (no sign: a magnitude); ints, Decimals and finite floats (JSON numbers) are taken as they are, range-checked."""
    return _parse(value, signed=False)


def parse_signed_decimal(value: Any) -> Decimal:
    """parse_decimal for a field that may be negative (a position, a P&L): a string may carry a sign."""
    return _parse(value, signed=True)


def dec_str(d: Decimal) -> str:
    """Plain positional notation, never scientific ('100', not '1E+2')."""
    return format(d, "f")


def plain(d: Decimal) -> Decimal:
    """Strip trailing zeros without going to an exponent form: 0.50000 -> 0.5, 1E+2 -> 100."""
    n = d.normalize()
    if n == 0:
        return Decimal(0)
    exp = n.as_tuple().exponent
    if isinstance(exp, int) and exp > 0:
        return n.quantize(Decimal(1))
    return n


def round_down_to(value: Decimal, step: Decimal) -> Decimal:
    """Round a magnitude toward zero to a multiple of step."""
    if step <= 0:
        return value
    return plain((value / step).to_integral_value(rounding=ROUND_DOWN) * step)


def round_to_tick(value: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """Round a price to a multiple of tick, up (toward +inf) or down (toward -inf)."""
    if tick <= 0:
        return value
    rounding = ROUND_CEILING if up else ROUND_FLOOR
    return plain((value / tick).to_integral_value(rounding=rounding) * tick)


def is_multiple(value: Decimal, step: Decimal) -> bool:
    if step <= 0:
        return True
    return (value / step) == (value / step).to_integral_value()


Dec = Annotated[Decimal, BeforeValidator(parse_decimal), PlainSerializer(dec_str, return_type=str, when_used="json")]
"""Field type for every price and quantity: parsed strictly, serialized as a plain decimal string."""
SignedDec = Annotated[Decimal, BeforeValidator(parse_signed_decimal),
                      PlainSerializer(dec_str, return_type=str, when_used="json")]
"""Field type for a value that may be negative (net position, realized P&L, fee): a string may carry a sign."""
