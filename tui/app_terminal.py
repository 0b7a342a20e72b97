"""The console's terminal going away (an ssh session that drops, a terminal window closed, `tmux kill-server`).

Textual does not notice: its input thread reads end-of-file in a loop (~50 % of a core) and the app runs on,
headless, holding the ledger and the venue connection, its alerts seen by nobody; a console started again after
reconnecting found the old one alive. Here a hang-up ends the console in order:

- SIGHUP (where the kernel or a terminal multiplexer sends it) and a once-a-second check that the terminal is still
  a terminal (a hung-up one is not: `isatty` fails with EIO) both call `terminal_lost`;
- a send in flight is waited for (at most `HANGUP_SEND_WAIT` seconds): its outcomes are journaled by the bridge as
  always; nothing new is started (the keys are gone with the terminal);
- the journal says why the console stopped (`console_stopped`), and the app exits with 129 (128 + SIGHUP). The
  positions and their venue-side stops stay as they are; the protection supervisor stops with the console.

SIGTERM (`kill`, a service manager) ends the console the same way, with 143 (128 + SIGTERM).

Headless runs (Pilot tests, the benchmarks) have no terminal to lose: nothing is installed."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tui.bridge import DeskBridge

HANGUP_EXIT = 128 + 1  # the shell's code for a process ended by SIGHUP


def terminal_fd() -> int | None:
    """The console's terminal (its stdin, else its stdout), or None when it has none."""
    for stream in (sys.__stdin__, sys.__stdout__):
        try:
            if stream is not None and os.isatty(fd := stream.fileno()):
                return fd
        except (OSError, ValueError):
            continue
    return None


class TerminalWatch:
    """Mixed into PlanDeskApp: `watch_terminal()` from on_mount; `terminal_lost(why)` and `end_in_order(why, code)`
    end the console."""

    HANGUP_CHECK = 1.0  # seconds between the checks that the terminal is still there
    HANGUP_SEND_WAIT = 30.0  # at most this long for a send in flight to end

    if TYPE_CHECKING:
        bridge: DeskBridge
        _sending: dict[str, Any]
        is_headless: bool

        # (loose: App's own signatures are the ones that count; these only say the mixin needs them)
        def set_interval(self, *a: Any, **kw: Any) -> Any: ...
        def set_timer(self, *a: Any, **kw: Any) -> Any: ...
        def log_line(self, kind: str, text: str) -> None: ...
        def exit(self, *a: Any, **kw: Any) -> None: ...
        def run_worker(self, *a: Any, **kw: Any) -> Any: ...

    _terminal: int | None = None
    ending: str | None = None  # why the console is ending (None while it runs on)
    _exit_code = 0

    def watch_terminal(self) -> None:
        if self.is_headless:
            return
        self._terminal = terminal_fd()
        if self._terminal is None:
            return
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError, AttributeError):
            loop = asyncio.get_running_loop()
            loop.add_signal_handler(signal.SIGHUP, self.terminal_lost, "SIGHUP")
            # `kill`, a service manager: the same orderly end, the terminal still there to be restored
            loop.add_signal_handler(signal.SIGTERM, self.end_in_order, "SIGTERM", 128 + signal.SIGTERM)
        self.set_interval(self.HANGUP_CHECK, self._check_terminal, name="terminal-watch")

    def _check_terminal(self) -> None:
        if self._terminal is not None and self.ending is None and not os.isatty(self._terminal):
            self.terminal_lost("the terminal is gone")

    def terminal_lost(self, why: str) -> None:
        """End the console in order (end_in_order) with HANGUP_EXIT: its terminal is gone."""
        self.end_in_order(f"terminal lost ({why})", HANGUP_EXIT)

    def end_in_order(self, why: str, code: int) -> None:
        """End the console: wait for a send in flight, journal why, exit with `code`. Once."""
        if self.ending is not None:
            return
        self.ending = why
        self._exit_code = code
        self.log_line("error", f"{why}: the console stops once no send is in flight")
        self._end_after_sends(time.monotonic() + self.HANGUP_SEND_WAIT, list(self._sending))

    def _end_after_sends(self, deadline: float, waited: list[str]) -> None:
        if self._sending and time.monotonic() < deadline:
            self.set_timer(0.2, lambda: self._end_after_sends(deadline, waited), name="hangup-wait")
            return
        left = sorted(self._sending)
        summary = f"console stopped: {self.ending}"
        if waited:
            summary += f"; waited for the send of {', '.join(sorted(waited))}"
        if left:
            summary += f"; {', '.join(left)} still sending after {self.HANGUP_SEND_WAIT:.0f} s (the next start " \
                       "resolves its outcomes at the venue)"
        payload = {"why": self.ending, "waited_for": sorted(waited), "still_sending": left}

        async def journal_then_exit() -> None:  # (not on the UI loop's thread: the journal is the bridge's)
            try:
                await asyncio.wait_for(asyncio.wrap_future(self.bridge.journal_event("console_stopped", summary,
                                                                                     payload)), 10.0)
            except Exception as exc:  # a journal that fails must not keep the console alive
                self.log_line("error", f"console_stopped not journaled: {exc}")
            self.exit(return_code=self._exit_code)

        self.run_worker(journal_then_exit, name="hangup", exit_on_error=False)
