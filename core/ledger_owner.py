"""Which process owns an in-flight order: a per-process lease held as an OS file lock for the process lifetime.

Every order written ahead records its owner (``host:pid:start``). Recovery takes over a PENDING/UNKNOWN order only
when its owner is gone: another live process's in-flight order is left to that process.

Why a file lock and not a heartbeat: the kernel drops an ``flock`` the instant its process dies, SIGKILL included,
so "alive" is exact and immediate; there is no heartbeat to tune (too short: a busy process loses its orders; too
long: a crashed one blocks recovery), and a reused pid cannot impersonate a dead owner (the start time is part of the
id and of the lock file's name). The lock file is ``<ledger>.owners/<owner id>``; an owner on another host cannot be
checked through a local lock, so it is treated as alive (never stolen) and recovery says so.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import os
import re
import socket
import threading
import time
from pathlib import Path

from core.ledger_schema import LedgerError

_HOST = re.sub(r"[^A-Za-z0-9_.-]", "_", socket.gethostname())[:64] or "host"
_lock = threading.Lock()
#: per ledger path: (owner id, the open locked file descriptor)
_held: dict[str, tuple[str, int]] = {}
_START = time.time_ns()


def owners_dir(ledger_path: str) -> Path | None:
    if ledger_path in ("", ":memory:") or ledger_path.startswith("file:"):
        return None
    return Path(ledger_path + ".owners")


def _file_name(owner: str) -> str:
    return owner.replace(":", "_")


def process_owner(ledger_path: str) -> str:
    """This process's owner id for the ledger at `ledger_path`, taking the lease (the lock) on first use."""
    with _lock:
        held = _held.get(ledger_path)
        if held is not None and held[0].split(":")[1] == str(os.getpid()):
            return held[0]
        owner = f"{_HOST}:{os.getpid()}:{_START}"
        d = owners_dir(ledger_path)
        if d is None:
            _held[ledger_path] = (owner, -1)
            return owner
        try:
            d.mkdir(mode=0o700, exist_ok=True)
            fd = os.open(d / _file_name(owner), os.O_RDWR | os.O_CREAT, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # our own fresh file: never contended
            os.write(fd, f"{owner}\n".encode())
        except OSError as exc:  # without the lease another process would take our orders over: send nothing
            raise LedgerError(f"cannot take the owner lease in {d}: {exc.strerror or exc}") from None
        _held[ledger_path] = (owner, fd)
        return owner


def is_mine(ledger_path: str, owner: str) -> bool:
    held = _held.get(ledger_path)
    return held is not None and held[0] == owner


def owner_alive(ledger_path: str, owner: str) -> bool | None:
    """True: the owner process holds its lease (or is this process). False: it is gone (its lock is free or its
    file removed). None: cannot be told from here (another host); the caller treats it as alive."""
    if is_mine(ledger_path, owner):
        return True
    parts = owner.split(":")
    if len(parts) != 3:
        return False
    if parts[0] != _HOST:
        return None
    d = owners_dir(ledger_path)
    if d is None:
        return False  # an in-memory ledger has no other process
    path = d / _file_name(owner)
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    else:  # nobody holds it: the owner is gone; clear its file (still holding the lock, so no one is misled)
        with contextlib.suppress(OSError):
            path.unlink()
        return False
    finally:
        os.close(fd)


def _release_all() -> None:
    for ledger_path, (owner, fd) in list(_held.items()):
        if fd < 0 or owner.split(":")[1] != str(os.getpid()):
            continue
        d = owners_dir(ledger_path)
        with contextlib.suppress(OSError):
            if d is not None:
                (d / _file_name(owner)).unlink()
            os.close(fd)
    _held.clear()


atexit.register(_release_all)
