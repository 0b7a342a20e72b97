"""Decimal parsing, formatting and rounding: money is Decimal, never float."""

from __future__ import annotations

import re
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer

#: Largest magnitude accepted for any price or quantity. Anything larger is a typo or an attack (1e400).
MAX_MAGNITUDE = Decimal("1e15")
#: Smallest exponent accepted (1e-18 is finer than any venue's tick or step).
MIN_EXPONENT = -18


def parse_decimal(value: Any) -> Decimal:
    """Turn JSON input (string, int, Decimal, or a finite float) into a Decimal, or raise ValueError in words."""
    if isinstance(value, bool):
        raise ValueError("expected a decimal number, got a boolean")
    if isinstance(value, Decimal):
        d = value
    elif isinstance(value, int):
        d = Decimal(value)
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ValueError("must be a finite number (NaN and Infinity are refused)")
        d = Decimal(repr(value))
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            raise ValueError("expected a decimal number, got an empty string")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"expected a decimal number, got {value!r}") from None
    else:
        raise ValueError(f"expected a decimal number, got {type(value).__name__}")
    if not d.is_finite():
        raise ValueError("must be a finite number (NaN and Infinity are refused)")
    if d != 0 and abs(d) >= MAX_MAGNITUDE:
        raise ValueError(f"{value!s} is out of range (magnitude must be below {MAX_MAGNITUDE:f})")
    exp = d.as_tuple().exponent
    if isinstance(exp, int) and exp < MIN_EXPONENT and d != d.quantize(Decimal(1).scaleb(MIN_EXPONENT), ROUND_DOWN):
        raise ValueError(f"{value!s} has more than {-MIN_EXPONENT} decimal places")
    return d


#: The one grammar for a typed number (console fields, CLI flags, JSON strings): digits with at most one dot,
#: an optional exponent within ±MAX_EXPONENT_TEXT, and a leading sign only where the field allows one.
#: No commas, underscores, spaces inside, NaN/Infinity, hex or any other spelling Python's Decimal would take.
_NUMBER = re.compile(r"(?P<sign>[+-]?)(?P<body>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(?:[eE](?P<exp>[+-]?[0-9]+))?")
#: Exponents beyond this are refused before any arithmetic (1e1000000 must never reach Decimal's context).
MAX_EXPONENT_TEXT = 30


class NumberError(ValueError):
    """A typed number that does not follow the grammar; the message names the field and the reason."""


def parse_number_text(text: str, field: str, *, signed: bool = False) -> Decimal:
    """Parse a typed number strictly, or raise NumberError naming `field`.

    `signed=False` refuses a leading '+' or '-' (a sign there would change the meaning: '+0.5' is not a target).
    The result is also held to MAX_MAGNITUDE and MIN_EXPONENT like every JSON number."""
    raw = text.strip()
    if not raw:
        raise NumberError(f"{field}: a number is required")
    if len(raw) > 64:
        raise NumberError(f"{field}: {raw[:20]!r}... is too long for a number (at most 64 characters)")
    if "," in raw:
        raise NumberError(f"{field}: {raw!r} has a comma; use a dot for decimals (0.5, not 0,5) and no thousands "
                          "separators")
    m = _NUMBER.fullmatch(raw)
    if m is None:
        if "_" in raw:
            raise NumberError(f"{field}: {raw!r} has an underscore; type plain digits (1000, not 1_000)")
        raise NumberError(f"{field}: {raw!r} is not a number (digits, one dot, optional exponent like 1e-3)")
    if m.group("sign") and not signed:
        raise NumberError(f"{field}: {raw!r} has a sign; this field takes a plain magnitude (no + or -)")
    exp = m.group("exp")
    if exp is not None and (len(exp.lstrip("+-")) > 4 or abs(int(exp)) > MAX_EXPONENT_TEXT):
        raise NumberError(f"{field}: exponent {exp} in {raw!r} is out of range (at most ±{MAX_EXPONENT_TEXT})")
    try:
        return parse_decimal(raw)
    except ValueError as exc:
        raise NumberError(f"{field}: {exc}") from None


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
