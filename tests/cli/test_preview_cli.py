"""The real `plandesk` command in a subprocess: preview output, exit codes, and one clear line for every bad file."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
PLANDESK = Path(sys.executable).parent / "plandesk"


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [str(PLANDESK) if PLANDESK.exists() else sys.executable, *([] if PLANDESK.exists() else ["-m", "tui.cli"])]
    return subprocess.run([*cmd, *map(str, args)], capture_output=True, text=True, timeout=60, cwd=cwd or ROOT)


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


STATE = EXAMPLES / "state.json"


def test_preview_json_matches_the_contract() -> None:
    r = run("preview", EXAMPLES / "scale_in.json", "--state", STATE, "--json")
    assert r.returncode == 0, r.stderr
    batch = json.loads(r.stdout)
    assert set(batch) == {"directive_id", "scope", "commands", "warnings", "errors"}
    assert batch["directive_id"] == "STR_SCALE_IN"
    trade, modify = batch["commands"]
    assert trade == {
        "seq": 1, "action": "EXECUTE_TRADE", "plan_id": "TPL_1", "symbol": "BTCUSDT", "side": "BUY",
        "order_type": "MARKET", "quantity": "0.5", "price": None, "stop_price": None, "time_in_force": None,
        "reduce_only": False, "role": "ENTRY", "client_order_id": trade["client_order_id"],
    }
    assert modify == {"seq": 2, "action": "MODIFY_ORDER", "plan_id": "TPL_1", "symbol": "BTCUSDT",
                      "order_id": "ORD_1", "quantity": "1.5", "price": None, "stop_price": "100980"}


def test_preview_is_deterministic_across_processes() -> None:
    a = run("preview", EXAMPLES / "flatten.json", "--state", STATE, "--json")
    b = run("preview", EXAMPLES / "flatten.json", "--state", STATE, "--json")
    assert a.returncode == b.returncode == 0
    assert a.stdout == b.stdout


def test_preview_table_is_readable() -> None:
    r = run("preview", EXAMPLES / "flatten.json", "--state", STATE)
    assert r.returncode == 0, r.stderr
    assert "CANCEL" in r.stdout and "PLACE" in r.stdout and "IOC" in r.stdout


def test_errors_exit_2_with_empty_commands(tmp_path: Path) -> None:
    d = write(tmp_path, "d.json", json.dumps({
        "scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"],
        "exit_directive": {"stop_loss_price": "103000"}}))
    r = run("preview", d, "--state", STATE, "--json")
    assert r.returncode == 2
    batch = json.loads(r.stdout)
    assert batch["commands"] == []
    assert "wrong side" in batch["errors"][0] and "TPL_1" in batch["errors"][0]


BAD_DIRECTIVES = {
    "not_json": ("{scope: MODIFY", "not valid JSON"),
    "array": ("[1, 2]", "expected a JSON object"),
    "wrong_scope": ('{"scope": "OPEN_ALL", "target_plan_ids": ["TPL_1"]}', "scope"),
    "relative_size": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                      '"size_directive": {"position_size": 0.5}}', "target_position_size"),
    "negative": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                 '"size_directive": {"target_position_size": "-0.75"}}', "target_position_size"),
    "nan": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
            '"size_directive": {"target_position_size": NaN}}', "NaN"),
    "infinity": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                 '"size_directive": {"target_position_size": Infinity}}', "Infinity"),
    "nan_string": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                   '"size_directive": {"target_position_size": "NaN"}}', "not a number"),
    "huge": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
             '"size_directive": {"target_position_size": 1e400}}', "out of range"),
    "text_number": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                    '"size_directive": {"target_position_size": "one"}}', "target_position_size"),
    "bool_number": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], '
                    '"size_directive": {"target_position_size": true}}', "boolean"),
    "unknown_field": ('{"scope": "MODIFY_EXISTING", "target_plan_ids": ["TPL_1"], "urgent": true}', "urgent"),
    "ids_not_list": ('{"scope": "CLOSE_EXISTING", "target_plan_ids": "TPL_1"}', "target_plan_ids"),
}


@pytest.mark.parametrize("case", sorted(BAD_DIRECTIVES))
def test_bad_directive_gives_one_clear_line(tmp_path: Path, case: str) -> None:
    text, expected = BAD_DIRECTIVES[case]
    d = write(tmp_path, "d.json", text)
    r = run("preview", d, "--state", STATE, "--json")
    assert r.returncode == 1
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert lines[0].startswith("plandesk: error: directive")
    assert expected in lines[0]


BAD_SNAPSHOTS = {
    "wrong_type": ('{"markets": {}, "plans": {"plan_id": "x"}}', "plans"),
    "text_price": ('{"markets": {"BTCUSDT": {"mark_price": "abc", "tick_size": "0.01", "step_size": "0.1"}}}',
                   "markets.BTCUSDT.mark_price"),
    "negative_tick": ('{"markets": {"BTCUSDT": {"mark_price": "1", "tick_size": "-0.01", "step_size": "0.1"}}}',
                      "tick_size"),
    "missing_field": ('{"plans": [{"plan_id": "TPL_1", "symbol": "BTCUSDT"}]}', "direction"),
    "wrong_sign": ('{"plans": [{"plan_id": "TPL_1", "symbol": "BTCUSDT", "direction": "BUY", '
                   '"net_position": "-1"}]}', "wrong sign"),
    "infinity": ('{"markets": {"BTCUSDT": {"mark_price": Infinity, "tick_size": "0.01", "step_size": "0.1"}}}',
                 "Infinity"),
    "bad_status": ('{"plans": [{"plan_id": "TPL_1", "symbol": "BTCUSDT", "direction": "BUY", "orders": '
                   '[{"order_id": "O", "role": "STOP_LOSS", "side": "SELL", "type": "STOP_MARKET", '
                   '"quantity": "1", "status": "LIVE"}]}]}', "status"),
}


@pytest.mark.parametrize("case", sorted(BAD_SNAPSHOTS))
def test_bad_snapshot_gives_one_clear_line(tmp_path: Path, case: str) -> None:
    text, expected = BAD_SNAPSHOTS[case]
    s = write(tmp_path, "s.json", text)
    r = run("preview", EXAMPLES / "flatten.json", "--state", s)
    assert r.returncode == 1
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    assert lines[0].startswith("plandesk: error: snapshot")
    assert expected in lines[0]


def test_missing_files_and_missing_db(tmp_path: Path) -> None:
    r = run("preview", tmp_path / "nope.json", "--state", STATE)
    assert r.returncode == 1 and "file not found" in r.stderr
    r = run("preview", EXAMPLES / "flatten.json", "--db", tmp_path / "nope.sqlite")
    assert r.returncode == 1 and "file not found" in r.stderr and "Traceback" not in r.stderr


def test_ledger_import_export_round_trip_and_preview_from_db(tmp_path: Path) -> None:
    db = tmp_path / "ledger.sqlite"
    r = run("ledger", "import", STATE, "--db", db)
    assert r.returncode == 0, r.stderr
    first = run("ledger", "export", "--db", db)
    assert first.returncode == 0, first.stderr
    exported = tmp_path / "exported.json"
    exported.write_text(first.stdout)
    db2 = tmp_path / "ledger2.sqlite"
    assert run("ledger", "import", exported, "--db", db2).returncode == 0
    second = run("ledger", "export", "--db", db2)
    assert second.stdout == first.stdout
    snap = json.loads(first.stdout)
    assert snap["desk"] == {"state": "ACTIVE"}
    assert {p["plan_id"] for p in snap["plans"]} == {"TPL_1", "TPL_2", "TPL_3"}
    # preview from the ledger gives the same batch as from the snapshot, and is journalled
    a = run("preview", EXAMPLES / "flatten.json", "--db", db, "--json")
    b = run("preview", EXAMPLES / "flatten.json", "--state", STATE, "--json")
    assert a.returncode == 0 and a.stdout == b.stdout
    j = run("journal", "--db", db, "--json")
    entries = [json.loads(line) for line in j.stdout.splitlines()]
    assert [e["kind"] for e in entries] == ["preview"]
    assert entries[0]["directive_id"] == "STR_PANIC"
    assert entries[0]["payload"]["digest"]
