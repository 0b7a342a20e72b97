"""The per-process owner lease: alive while its process lives, gone the instant it is SIGKILLed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from core.ledger_owner import is_mine, owner_alive, process_owner

CHILD = ("import sys, time; from core.ledger_owner import process_owner; "
         "print(process_owner(sys.argv[1]), flush=True); time.sleep(30)")


def test_owner_lease_follows_the_process_lifetime(tmp_path: Path) -> None:
    db = str(tmp_path / "l.sqlite")
    mine = process_owner(db)
    assert is_mine(db, mine) and owner_alive(db, mine) is True and process_owner(db) == mine
    child = subprocess.Popen([sys.executable, "-c", CHILD, db], stdout=subprocess.PIPE, text=True,
                             cwd=Path(__file__).resolve().parents[2])
    try:
        assert child.stdout is not None
        theirs = child.stdout.readline().strip()
        assert theirs != mine and owner_alive(db, theirs) is True
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=10)
    assert owner_alive(db, theirs) is False
    assert owner_alive(db, "otherhost:1:1") is None  # cannot be checked from here: never taken over
    assert owner_alive(db, "garbage") is False
