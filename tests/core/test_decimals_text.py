"""The one strict grammar for typed numbers (console fields, CLI flags)."""

from decimal import Decimal

import pytest

from core.decimals import NumberError, parse_number_text


@pytest.mark.parametrize("text,value", [("0.5", "0.5"), ("5", "5"), (".5", "0.5"), ("5.", "5"), ("1e-3", "0.001"),
                                        (" 2 ", "2"), ("2E+5", "200000")])
def test_accepts_plain_numbers(text: str, value: str) -> None:
    assert parse_number_text(text, "size") == Decimal(value)


@pytest.mark.parametrize("text,why", [
    ("1e1000000", "exponent"), ("1e-1000000", "exponent"), ("0,5", "comma"), ("22,5", "comma"), ("1,000", "comma"),
    ("1_000", "underscore"), ("0.00_2", "underscore"), ("nan", "not a number"), ("Infinity", "not a number"),
    ("0x10", "not a number"), ("", "required"), ("1e15", "out of range"), ("+0.5", "sign"), ("-1", "sign"),
    ("1" * 100, "too long"), ("1.2.3", "not a number"), ("five", "not a number"),
])
def test_refuses_with_field_and_reason(text: str, why: str) -> None:
    with pytest.raises(NumberError) as info:
        parse_number_text(text, "target size")
    msg = str(info.value)
    assert msg.startswith("target size:")
    assert why in msg


def test_sign_only_where_allowed() -> None:
    assert parse_number_text("+0.5", "delta", signed=True) == Decimal("0.5")
    assert parse_number_text("-0.25", "delta", signed=True) == Decimal("-0.25")
