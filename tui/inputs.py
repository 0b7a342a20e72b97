"""Reading operator files: strict JSON (no NaN/Infinity, exact decimals) and one-line error messages."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)

#: Exit codes of every `plandesk` command: done; failed (bad input, refused, rejected or still open); the preview
#: has errors (nothing can be sent).
EXIT_OK, EXIT_FAIL, EXIT_ERRORS = 0, 1, 2


class InputError(Exception):
    """A bad input, with a message fit for one line on stderr."""


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number plandesk accepts (NaN and Infinity are refused)")


def load_json(path: Path | str, what: str) -> Any:
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {p}: file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {p}: cannot read: {exc.__class__.__name__}") from None
    try:
        return json.loads(text, parse_float=Decimal, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise InputError(f"{what} {p}: not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except ValueError as exc:
        raise InputError(f"{what} {p}: {exc}") from None


def describe_validation(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for err in exc.errors()[:limit]:
        loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if err["type"] == "extra_forbidden":
            msg = "unknown field (not part of the format)"
        parts.append(f"{loc}: {msg}")
    more = len(exc.errors()) - limit
    if more > 0:
        parts.append(f"and {more} more")
    return "; ".join(parts)


def parse_model(model: type[M], data: Any, what: str, path: Path | str) -> M:
    if not isinstance(data, dict):
        raise InputError(f"{what} {path}: expected a JSON object at the top level, got {type(data).__name__}")
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{what} {path}: {describe_validation(exc)}") from None


def load_model(model: type[M], path: Path | str, what: str) -> M:
    return parse_model(model, load_json(path, what), what, path)
