"""Strict inputs through the real `plandesk` script: one number grammar for flags and JSON strings, duplicate keys,
files that are not regular files. Each bad input: one line on stderr naming the field, non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PLANDESK = Path(sys.executable).parent / "plandesk"
STATE = {"markets": {"BTCUSDT": {"mark_price": "102000", "tick_size": "0.01", "step_size": "0.00001",
                                 "min_notional": "5"}},
         "plans": [{"plan_id": "TPL_1", "symbol": "BTCUSDT", "direction": "BUY", "status": "ACTIVE",
                    "net_position": "0.001", "avg_entry_price": "95000", "orders": []}]}


def run(*args: str | Path, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(PLANDESK), *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          cwd=ROOT, stdin=subprocess.DEVNULL)


def one_line(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode != 0, r.stdout
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    return lines[0]


@pytest.fixture
def state(tmp_path: Path) -> Path:
    p = tmp_path / "state.json"
    p.write_text(json.dumps(STATE))
    return p


@pytest.mark.parametrize("target,why", [
    ('"+0.5"', "has a sign"), ('"0.00_2"', "underscore"), ('"1_000"', "underscore"), ('"0,5"', "comma"),
    ('"1e1000000"', "out of range"), ("1e1000000", "out of range"), ("-1e1000000", "out of range"),
])
def test_target_refused_naming_the_field(tmp_path: Path, state: Path, target: str, why: str) -> None:
    d = tmp_path / "d.json"
    d.write_text('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                 f'"size_directive": {{"target_position_size": {target}}}}}')
    line = one_line(run("preview", d, "--state", state))
    assert "size_directive.target_position_size" in line and why in line, line
    assert "Overflow" not in line


def test_json_numbers_still_accepted(tmp_path: Path, state: Path) -> None:
    d = tmp_path / "d.json"
    d.write_text('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                 '"size_directive": {"target_position_size": 0.002}}')
    r = run("preview", d, "--state", state, "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["commands"][0]["quantity"] == "0.001"


@pytest.mark.parametrize("value,why", [("+0.01", "has a sign"), ("0.00_2", "underscore"), ("0,05", "comma"),
                                       ("1e1000000", "out of range"), ("nan", "not a number")])
def test_slippage_flag_uses_the_grammar(tmp_path: Path, value: str, why: str) -> None:
    line = one_line(run("flatten", "--all", "--dry-run", "--slippage", value, "--db", tmp_path / "x.sqlite"))
    assert line.startswith("plandesk: error: --slippage:") and why in line, line


def test_snapshot_mark_out_of_range(tmp_path: Path) -> None:
    bad = json.loads(json.dumps(STATE))
    bad["markets"]["BTCUSDT"]["mark_price"] = "1e1000000"
    p = tmp_path / "s.json"
    p.write_text(json.dumps(bad))
    line = one_line(run("ledger", "import", p, "--db", tmp_path / "l.sqlite"))
    assert "markets.BTCUSDT.mark_price" in line and "out of range" in line, line


def test_duplicate_keys_refused(tmp_path: Path, state: Path) -> None:
    d = tmp_path / "d.json"
    d.write_text('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                 '"size_directive": {"target_position_size": "0.001", "target_position_size": "5"}}')
    line = one_line(run("preview", d, "--state", state))
    assert "duplicate key 'target_position_size'" in line, line


def test_fifo_device_and_directory_refused_without_hanging(tmp_path: Path, state: Path) -> None:
    fifo = tmp_path / "fifo.json"
    os.mkfifo(fifo)
    for path, why in ((fifo, "not a regular file"), (Path("/dev/zero"), "not a regular file"),
                      (tmp_path, "is a directory")):
        line = one_line(run("preview", path, "--state", state, timeout=10))
        assert why in line, line
        line = one_line(run("preview", tmp_path / "nope.json", "--state", path, timeout=10))
        assert "file not found" in line or why in line, line
        line = one_line(run("ledger", "import", path, "--db", tmp_path / "l.sqlite", timeout=10))
        assert why in line, line
