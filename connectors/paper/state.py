"""The paper account's state file, whole: `save_engine` writes a full snapshot (for seeding, with no process using the
file), `load_engine` reads one. The per-call persistence is connectors.paper.store.PaperStore (SQLite, what changed)."""

from __future__ import annotations

from pathlib import Path

from connectors.paper.engine import PaperEngine
from connectors.paper.store import PaperStore


def save_engine(engine: PaperEngine, path: Path) -> None:
    """Replace the account at `path` with `engine` (one transaction: a reader sees the old account or the new one)."""
    PaperStore.replace(Path(path), engine).close()


def load_engine(path: Path) -> PaperEngine:
    """The account stored at `path` (a paper store, or a legacy JSON state file). Raises PaperStateError if the file
    is not a paper account, FileNotFoundError if there is none."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"paper state {path}: file not found")
    store, engine = PaperStore.open_or_create(path, PaperEngine({}))
    store.close()
    return engine
