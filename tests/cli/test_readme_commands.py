"""Every command of the README's command block, run as a new user would: the installed `plandesk` console script in
a subprocess, in a scratch directory holding a copy of examples/. The block is parsed from README.md, so a command
added there is run here too (a command this file does not know how to run fails the test)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PLANDESK = Path(sys.executable).parent / "plandesk"
ENV = {k: v for k, v in os.environ.items() if not k.startswith("PLANDESK_")} | {"PYTHONUNBUFFERED": "1"}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The command line", 1)[1]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README: no ```sh block under 'The command line'"
    out = []
    for line in block.group(1).splitlines():
        cmd = re.split(r"\s{2,}#", line, maxsplit=1)[0].strip()
        if cmd:
            assert cmd.startswith("plandesk "), cmd
            out.append(cmd)
    return out


def variants(cmd: str) -> list[list[str]]:
    """Concrete argument lists for one README line: `[a | b]` gives one run per choice, `[x]` one with and one
    without (the shorter forms first, `--yes` last); DIRECTIVE.json is the scale-in example."""
    words = cmd.replace("DIRECTIVE.json", "examples/scale_in.json").split()[1:]
    text = " ".join(words)
    opts = re.findall(r"\[([^\]]+)\]", text)
    base = re.sub(r"\s*\[[^\]]+\]", "", text).split()
    runs = [base]
    for opt in opts:
        choices = [c.split() for c in opt.split("|")]
        runs += [[*base, *c] for c in choices]
    return sorted(runs, key=lambda a: "--yes" in a)  # what changes the venue goes last


def run(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PLANDESK), *args], cwd=cwd, env=ENV, capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_exchange_sim(args: list[str], cwd: Path) -> None:
    port = free_port()
    args = [a if a != "8765" else str(port) for a in args]
    proc = subprocess.Popen([str(PLANDESK), *args], cwd=cwd, env=ENV, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, f"exchange-sim exited: {proc.communicate()}"
            try:
                r = httpx.get(f"http://127.0.0.1:{port}/api/v3/exchangeInfo", timeout=1)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "exchange-sim did not answer within 20 s"
                time.sleep(0.1)
        assert r.status_code == 200
        assert {s["symbol"] for s in r.json()["symbols"]} >= {"BTCUSDT"}
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            out, err = proc.communicate(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
    assert "API key" in out and f"127.0.0.1:{port}" in out, out
    assert "Traceback" not in err, err


def read_pty(fd: int, seen: bytearray, *, until: Callable[[], bool], timeout: float, what: str) -> None:
    """Read the terminal's output into `seen` until `until()` holds; fail naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while not until():
        assert time.monotonic() < deadline, f"{what} (in {timeout:.0f} s); screen so far: {bytes(seen[-400:])!r}"
        r, _, _ = select.select([fd], [], [], 0.1)
        if r:
            try:
                seen += os.read(fd, 65536)
            except OSError:  # the child closed the terminal: only `until` (its exit) can end the wait now
                time.sleep(0.05)


def run_in_terminal(args: list[str], cwd: Path, expect: str) -> None:
    """A console command in a pseudo-terminal: wait until `expect` was painted, press q (and y when it asks about
    open positions), expect exit 0."""
    pid, fd = pty.fork()
    if pid == 0:  # the child
        os.chdir(cwd)
        os.execve(str(PLANDESK), [str(PLANDESK), *args], ENV | {"TERM": "xterm-256color", "COLUMNS": "160",
                                                                 "LINES": "50"})
    seen = bytearray()
    status: list[int] = []

    def exited() -> bool:
        if not status:
            done, st = os.waitpid(pid, os.WNOHANG)
            if done:
                status.append(st)
        return bool(status)

    try:
        read_pty(fd, seen, until=lambda: expect.encode() in seen, timeout=30, what=f"{args}: {expect!r} not painted")
        time.sleep(0.5)  # past the confirmation guard / first refresh
        mark = len(seen)
        os.write(fd, b"q")
        # with open positions q asks first ("Quit with N open positions?") and y answers; without, it just quits
        read_pty(fd, seen, until=lambda: b"Quit with" in seen[mark:] or exited(), timeout=15,
                 what=f"{args}: q neither quit nor asked about the open positions")
        if not exited():
            time.sleep(0.5)  # past the dialog's confirmation guard
            os.write(fd, b"y")
        read_pty(fd, seen, until=exited, timeout=15, what=f"{args}: did not quit on q")
        assert os.waitstatus_to_exitcode(status[0]) == 0, bytes(seen[-800:])
    finally:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass
        os.close(fd)


def test_readme_lists_the_commands() -> None:
    cmds = readme_commands()
    assert any(c.startswith("plandesk exchange-sim --port 8765") for c in cmds)
    assert len(cmds) >= 10


def test_every_readme_command_runs(tmp_path: Path) -> None:
    assert PLANDESK.exists(), f"{PLANDESK}: the console script is not installed"
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    done: list[str] = []
    for cmd in readme_commands():
        for args in variants(cmd):
            name = args[0]
            if name == "exchange-sim":
                run_exchange_sim(args, tmp_path)
            elif name in ("demo", "console"):
                run_in_terminal(args, tmp_path, expect="TPL_")
            else:
                r = run(args, tmp_path)
                assert "Traceback" not in r.stderr, (args, r.stderr)
                if name == "send" and "--yes" not in args:
                    assert r.returncode != 0 and "terminal" in r.stderr, (args, r.returncode, r.stderr)
                elif name == "flatten" and "--yes" not in args and "--dry-run" not in args:
                    assert r.returncode != 0 and "terminal" in r.stderr, (args, r.returncode, r.stderr)
                else:
                    assert r.returncode == 0, (args, r.returncode, r.stdout[-500:], r.stderr)
                if name == "ledger" and args[1] == "export":
                    assert json.loads(r.stdout)["plans"], r.stdout[:300]
            done.append(" ".join(args))
    assert len(done) >= len(readme_commands())


@pytest.mark.parametrize("args", [["exchange-sim", "--help"], ["--help"]])
def test_help_prints_usage(args: list[str], tmp_path: Path) -> None:
    r = run(args, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "usage: plandesk" in r.stdout
    if args[0] == "exchange-sim":
        assert "--port" in r.stdout
