"""Strict JSON objects: a key given twice in one object is refused (which value is meant is ambiguous)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

PairsHook = Callable[[list[tuple[str, Any]]], dict[str, Any]]


def unique_keys(error: Callable[[str], Exception]) -> PairsHook:
    """An `object_pairs_hook` for json.loads that raises `error(key)` on a duplicate key."""

    def hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                raise error(key)
            out[key] = value
        return out

    return hook
