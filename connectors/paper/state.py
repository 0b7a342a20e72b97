"""The paper account's state file: JSON, written atomically (temporary file + os.replace)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from connectors.paper.engine import PaperEngine


def save_engine(engine: PaperEngine, path: Path) -> None:
    """Write the engine state so that a reader sees either the old file or the new one, never a torn one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    data = json.dumps(engine.to_dict(), separators=(",", ":"))
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def load_engine(path: Path) -> PaperEngine:
    with open(path, encoding="utf-8") as fh:
        return PaperEngine.from_dict(json.load(fh))
