"""Issue 9 items 11-13: who operates (header and journal), the venue's label, the demo says where it keeps its
ledger, and help."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.journal import Journal
from tests.tui.conftest import SIZE, Desk, preview_screen, ready, select, sent
from tui.cli_console import resolve_operator, venue_label
from tui.inputs import InputError

PLANDESK = Path(sys.executable).parent / "plandesk"


def test_venue_label_is_kind_and_host_never_a_real_venue_for_the_simulator() -> None:
    sim = SimpleNamespace(name="binance", rest=SimpleNamespace(base_url="http://127.0.0.1:8765"))
    assert venue_label(sim, "sim") == "sim 127.0.0.1:8765"
    assert venue_label(sim, "binance") == "sim 127.0.0.1:8765"  # a loopback host is a simulator
    real = SimpleNamespace(rest=SimpleNamespace(base_url="https://api.binance.com"))
    assert venue_label(real, "binance") == "binance api.binance.com"
    assert venue_label(SimpleNamespace(), "paper") == "paper"


def test_operator_from_the_flag_else_the_login(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLANDESK_OPERATOR", raising=False)
    assert resolve_operator(argparse.Namespace(operator=" alice ")) == "alice"
    assert os.environ["PLANDESK_OPERATOR"] == "alice"
    monkeypatch.delenv("PLANDESK_OPERATOR")
    monkeypatch.delenv("USER", raising=False)
    monkeypatch.delenv("LOGNAME", raising=False)
    assert resolve_operator(argparse.Namespace(operator=None)) not in ("", None)
    with pytest.raises(InputError, match="--operator"):
        resolve_operator(argparse.Namespace(operator="  "))


async def test_operator_in_the_header_and_the_journal(desk: Desk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLANDESK_OPERATOR", "alice")
    desk.app.operator = "alice"
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "op alice" in str(desk.app.query_one("#header").render())
        await select(pilot, "TPL_2")
        await pilot.press("c")
        screen = await preview_screen(pilot)
        await pilot.press("y")
        await sent(pilot, screen)
    with Journal(desk.bridge.db) as journal:
        who = {e.operator for e in journal.entries()}
    assert who == {"alice"}


def test_demo_rejects_a_bad_operator_in_one_line() -> None:
    out = subprocess.run([str(PLANDESK), "demo", "--operator", " "], capture_output=True, text=True, timeout=60)
    assert out.returncode != 0 and "--operator" in out.stderr and "Traceback" not in out.stderr


async def test_help_lists_the_keys_of_the_screen_and_home_end_move(desk: Desk) -> None:
    from tui.screens.help import HelpScreen
    from tui.widgets.plans_table import PlansTable

    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("end")
        table = desk.app.query_one(PlansTable)
        assert table.selected_plan_id == "TPL_6"
        await pilot.press("home")
        assert table.selected_plan_id == "TPL_1"
        await pilot.press("question_mark")
        help_screen = await _screen(pilot, HelpScreen)
        text = help_screen.text
        for key in ("t", "s", "c", "F", "q", "/"):
            assert f"\n{key:>8}  " in text, (key, text)
        await pilot.press("escape")
        await pilot.press("c")
        await preview_screen(pilot)
        await pilot.press("f1")
        help_screen = await _screen(pilot, HelpScreen)
        for key in ("y", "enter", "r", "escape", "F"):
            assert f"\n{key:>8}  " in help_screen.text, (key, help_screen.text)
        await pilot.press("escape")


async def _screen(pilot, kind):  # type: ignore[no-untyped-def]
    from tests.tui.conftest import screen_of

    return await screen_of(pilot, kind)
