"""Damaged ledgers are refused with one line; ids from files are validated; ids from data are escaped in output."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from core.journal import Journal
from tests.cli.test_exec import export, run, seed
from tests.cli.test_strict_inputs import STATE, one_line


def damaged(tmp_path: Path, how: str) -> Path:
    db = tmp_path / f"{how}.sqlite"
    if how == "empty":
        db.write_bytes(b"")
    elif how == "text":
        db.write_text("not a ledger\n")
    else:
        snap = tmp_path / "s.json"
        snap.write_text(json.dumps(STATE))
        assert run("ledger", "import", snap, "--db", db).returncode == 0
        with sqlite3.connect(db) as c:
            c.execute(f"DROP TABLE {how}")
    return db


@pytest.mark.parametrize("how,why", [("empty", "empty file (0 bytes)"), ("text", "not a SQLite database"),
                                     ("orders", "damaged: table orders missing"),
                                     ("plans", "damaged: table plans missing")])
def test_a_damaged_ledger_is_refused_never_used(tmp_path: Path, how: str, why: str) -> None:
    db = damaged(tmp_path, how)
    size = db.stat().st_size
    d = tmp_path / "d.json"
    d.write_text('{"scope": "CLOSE_EXISTING", "target_plan_ids": ["TPL_1"]}')
    for args in (("ledger", "export"), ("journal",), ("flatten", "--all", "--dry-run"), ("preview", d),
                 ("flatten", "--all", "--yes")):
        line = one_line(run(*args, "--db", db))
        assert why in line and str(db) in line, (args, line)
        assert "LedgerError" not in line
    assert db.stat().st_size == size  # not "repaired" into an empty ledger


@pytest.mark.parametrize("field,value,why", [
    ("plan_id", "TPL_[/]", "not a safe id"), ("plan_id", "P1", "must start with TPL_"),
    ("plan_id", "TPL_\u001b[31mX", "not a safe id"), ("order_id", "ORD_" + "x" * 80, "not a safe id"),
    ("client_order_id", "pd-" + "a" * 40, "not a safe id"), ("order_id", "1", "must start with ORD_"),
])
def test_ids_are_validated_on_import_and_preview_state_alike(tmp_path: Path, field: str, value: str,
                                                           why: str) -> None:
    bad = json.loads(json.dumps(STATE))
    plan = bad["plans"][0]
    order = {"order_id": "ORD_1", "role": "STOP_LOSS", "side": "SELL", "type": "STOP_MARKET", "quantity": "0.001",
             "stop_price": "90000", "status": "OPEN"}
    plan["orders"] = [order]
    (plan if field == "plan_id" else order)[field] = value
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(bad))
    d = tmp_path / "d.json"
    d.write_text('{"scope": "CLOSE_EXISTING", "target_plan_ids": ["TPL_1"]}')
    refused = one_line(run("ledger", "import", snap, "--db", tmp_path / "l.sqlite"))
    assert field in refused and why in refused and "\x1b" not in refused, refused
    assert one_line(run("preview", d, "--state", snap)) == refused.replace("snapshot", "snapshot", 1)
    assert not (tmp_path / "l.sqlite").exists() or export(tmp_path / "l.sqlite")["plans"] == []


def test_directive_ids_are_validated(tmp_path: Path) -> None:
    snap = tmp_path / "s.json"
    snap.write_text(json.dumps(STATE))
    d = tmp_path / "d.json"
    d.write_text(json.dumps({"scope": "CLOSE_EXISTING", "target_plan_ids": ["TPL_\u001b[2J"]}))
    line = one_line(run("preview", d, "--state", snap))
    assert "target_plan_ids[0]" in line and "not a safe id" in line and "\x1b" not in line, line


def test_ids_from_data_are_escaped_in_output(tmp_path: Path) -> None:
    """An id that reached the ledger some other way: shown escaped, never parsed as markup or sent raw."""
    db = tmp_path / "desk.sqlite"
    seed(db, 1)
    evil = "TPL_[/]\x1b[31m[bold]X"
    with sqlite3.connect(db) as c:
        for table in ("plans", "orders", "exec_groups", "fills"):
            c.execute(f"UPDATE {table} SET plan_id = ? WHERE plan_id = 'TPL_1'", (evil,))
    Journal(db).append("note", directive_id=None, payload={"summary": evil})
    r = run("flatten", "--all", "--dry-run", "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "\x1b" not in r.stdout + r.stderr
    assert "TPL_[/]\\x1b[31m[bold]X" in r.stdout.replace("\n", "")
    j = run("journal", "--db", db)
    assert j.returncode == 0 and "\x1b" not in j.stdout and "TPL_[/]\\x1b[31m[bold]X" in j.stdout
    e = run("ledger", "export", "--db", db)
    assert e.returncode == 0 and "\x1b" not in e.stdout
