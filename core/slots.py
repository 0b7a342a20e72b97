"""Direct setters of the slots of pydantic's BaseModel, for building models from data validated already (the
worker's trusted commands, the ledger's rows read back).

`object.__setattr__(model, "__dict__", data)` looks the slot's descriptor up by name on every call: four such calls
were ~1 us of the ~1.7 us a trusted CancelOrder cost; through the descriptors' own setters it is 0.64 us. The
construction tests (tests/core/test_worker_trusted.py, the ledger's round trips) compare the models built this way
with validated ones."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import BaseModel


def _slot_setter(name: str) -> Callable[[Any, Any], None]:
    setter: Callable[[Any, Any], None] = vars(BaseModel)[name].__set__
    return setter


set_dict = _slot_setter("__dict__")
set_fields_set = _slot_setter("__pydantic_fields_set__")
set_extra = _slot_setter("__pydantic_extra__")
set_private = _slot_setter("__pydantic_private__")
