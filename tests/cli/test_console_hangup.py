"""The console whose terminal goes away (an ssh session that drops, a closed terminal window, `tmux kill-server`).

Found running `make demo` in tmux: after the terminal was gone the console kept running, headless, at ~50 % of a
core (Textual's input thread reads end-of-file in a loop), holding its ledger and its venue connection, with
nobody to see its alerts, and a console started again after reconnecting found the old one alive. Now a hang-up
(SIGHUP, or the terminal found gone by the console's once-a-second check) ends the console in order: a send in
flight is waited for, the journal says why the console stopped, and it exits with 129 (128 + SIGHUP). SIGTERM (`kill`,
a service manager) ends it the same way, with 143."""

from __future__ import annotations

import fcntl
import os
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest

from core.journal import Journal

PLANDESK = Path(sys.executable).parent / "plandesk"
pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="a pseudo-terminal")


def _start(tmp_path: Path) -> tuple[subprocess.Popen[bytes], int, Path]:
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 100, 0, 0))
    db = tmp_path / "desk.sqlite"
    env = {**os.environ, "TERM": "xterm-256color", "PLANDESK_CONFIG": str(tmp_path / "none.toml")}
    proc = subprocess.Popen([str(PLANDESK), "demo", "--db", str(db)], stdin=slave, stdout=slave, stderr=slave,
                            env=env, start_new_session=True, close_fds=True)
    os.close(slave)
    return proc, master, db


def _read_until(master: int, needle: bytes, timeout: float = 60.0) -> bytes:
    seen = b""
    end = time.monotonic() + timeout
    while needle not in seen:
        if time.monotonic() > end:
            raise AssertionError(f"{needle!r} not on the terminal after {timeout} s: {seen[-400:]!r}")
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                seen += os.read(master, 65536)
            except OSError:
                break
    return seen


def _wait(proc: subprocess.Popen[bytes], timeout: float) -> int | None:
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


def _stopped_entries(db: Path) -> list[str]:
    with Journal(db) as journal:
        return [str(e.payload.get("summary", "")) for e in journal.entries() if e.kind == "console_stopped"]


@pytest.mark.parametrize(("how", "code", "why"), [("terminal closed", 129, "terminal lost"),
                                                  ("SIGHUP", 129, "terminal lost"),
                                                  ("SIGTERM", 143, "SIGTERM")])
def test_the_console_ends_in_order_when_its_terminal_goes_away_or_it_is_told_to(tmp_path: Path, how: str, code: int,
                                                                                why: str) -> None:
    proc, master, db = _start(tmp_path)
    closed = False
    try:
        _read_until(master, b"desk open")
        if how.startswith("SIG"):
            proc.send_signal(getattr(signal, how))
        else:
            os.close(master)  # the terminal is gone: reads end, writes fail, it is no longer a tty
            closed = True
        got = _wait(proc, 20.0)
        assert got is not None, f"the console kept running after {how}"
        assert got == code, got
        stopped = _stopped_entries(db)
        assert len(stopped) == 1 and why in stopped[0], stopped
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if not closed:
            os.close(master)
