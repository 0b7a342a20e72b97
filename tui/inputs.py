"""Reading operator files: strict JSON (no NaN/Infinity, exact decimals) and one-line error messages."""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from core.decimals import json_number
from core.jsontext import unique_keys

M = TypeVar("M", bound=BaseModel)

#: Exit codes of every `plandesk` command: done; failed (bad input, refused, rejected or still open); the preview
#: has errors (nothing can be sent).
EXIT_OK, EXIT_FAIL, EXIT_ERRORS = 0, 1, 2


class InputError(Exception):
    """A bad input, with a message fit for one line on stderr."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain_text(value: object) -> str:
    """Text that came from data with its control characters (ANSI escapes, newlines) shown escaped."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], str(value))


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number plandesk accepts (NaN and Infinity are refused)")


class DuplicateKey(ValueError):
    pass


_no_duplicates = unique_keys(
    lambda key: DuplicateKey(f"duplicate key {key!r} in one object (which one is meant is ambiguous)"))


#: Operator files are small; a bigger one is a mistake (or /dev/zero).
MAX_FILE_BYTES = 256 * 1024 * 1024


def regular_file(p: Path, what: str) -> None:
    """Refuse anything but a regular file before opening it (a FIFO would block, a device never ends)."""
    try:
        st = os.stat(p)
    except FileNotFoundError:
        raise InputError(f"{what} {p}: file not found") from None
    except OSError as exc:
        raise InputError(f"{what} {p}: cannot read: {exc.strerror or exc.__class__.__name__}") from None
    if stat.S_ISDIR(st.st_mode):
        raise InputError(f"{what} {p}: is a directory, not a file")
    if not stat.S_ISREG(st.st_mode):
        raise InputError(f"{what} {p}: not a regular file (a FIFO, socket or device is refused)")
    if st.st_size > MAX_FILE_BYTES:
        raise InputError(f"{what} {p}: too large ({st.st_size} bytes)")


def load_json(path: Path | str, what: str) -> Any:
    p = Path(path)
    regular_file(p, what)
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))  # never blocks, even if swapped for a FIFO
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise InputError(f"{what} {p}: not a regular file (a FIFO, socket or device is refused)")
            text = f.read(MAX_FILE_BYTES + 1).decode("utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} {p}: file not found") from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise InputError(f"{what} {p}: cannot read: {exc.__class__.__name__}") from None
    try:
        return json.loads(text, parse_float=json_number, parse_constant=_refuse_constant,
                          object_pairs_hook=_no_duplicates)
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
