"""The journal from a plan's row (`j`), and the operator's config on the console's command line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.tui.conftest import SIZE, Desk, ready, select, until
from tui.cli_console import load_desk_config, resolve_operator
from tui.inputs import InputError
from tui.screens.journal_screen import JournalScreen

PLANDESK = Path(sys.executable).parent / "plandesk"


async def test_j_opens_the_journal_filtered_to_the_selected_plan(desk: Desk) -> None:
    async with desk.app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await select(pilot, "TPL_2")
        await pilot.press("j")
        await until(pilot, lambda: isinstance(desk.app.screen, JournalScreen), what="the journal screen")
        table = desk.app.screen.query_one(DataTable)
        await until(pilot, lambda: table.row_count > 0, what="journal rows")
        assert "TPL_2" in str(desk.app.screen.query_one("#journal-title").render())
        await pilot.press("slash", *"zzz-nothing")
        await until(pilot, lambda: table.row_count == 0, what="no entry matches")
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(desk.app.screen, JournalScreen), what="back to the desk")


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "config.toml"
    p.write_text(text)
    return p


def env(tmp_path: Path) -> dict[str, str]:
    e = {k: v for k, v in os.environ.items() if not k.startswith("PLANDESK_")}
    return e | {"XDG_CONFIG_HOME": str(tmp_path / "xdg")}


@pytest.mark.parametrize("text,needle", [('bell = "loud"\n', "bell:"), ('[keymap]\nteleport = "x"\n', "teleport"),
                                         ('slippage = "0,5"\n', "slippage:")])
def test_a_bad_config_stops_the_console_with_one_line(tmp_path: Path, text: str, needle: str) -> None:
    cfg = write(tmp_path, text)
    r = subprocess.run([str(PLANDESK), "demo", "--config", str(cfg)], capture_output=True, text=True, timeout=60,
                       env=env(tmp_path), stdin=subprocess.DEVNULL)
    assert r.returncode != 0
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and needle in lines[0] and str(cfg) in lines[0], r.stderr
    assert "Traceback" not in r.stderr


def test_config_gives_operator_slippage_and_keymap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k in list(os.environ):
        if k.startswith("PLANDESK_"):
            monkeypatch.delenv(k)
    cfg = write(tmp_path, 'operator = "anna"\nslippage = "0"\nstale_after_s = 12\n[keymap]\nstop = "ctrl+t"\n')
    args = argparse.Namespace(config=str(cfg), operator=None, slippage=None)
    config = load_desk_config(args)
    assert resolve_operator(args, config) == "anna"
    assert resolve_operator(argparse.Namespace(operator="bob"), config) == "bob"  # the flag wins
    assert config.stale_after_s == 12 and config.keymap == {"stop": "ctrl+t"}
    from tui.cli_console import _slippage

    assert _slippage(args, config) is None  # 0: MARKET closes
    with pytest.raises(InputError, match="--slippage"):
        _slippage(argparse.Namespace(slippage="1e1000000"), config)
