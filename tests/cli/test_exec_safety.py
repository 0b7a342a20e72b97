"""The real `plandesk send` / `flatten` / `preview` on a paper desk: a file's directive id comes from its content
(preview and send agree, a resend is refused), flatten-all halts first even with nothing to flatten."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from tests.cli.test_exec import assert_ledger_matches_venue, export, run, seed, venue_log

NEW_TRADE = {"scope": "NEW_TRADE",
             "entry_directive": {"symbol": "BTCUSDT", "direction": "BUY", "order_type": "MARKET"},
             "size_directive": {"target_position_size": "0.01"},
             "exit_directive": {"stop_loss_tolerance": "0.02"}}


def test_a_file_without_directive_id_previews_and_sends_the_same_batch_once(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 1)
    d = tmp_path / "new.json"
    d.write_text(json.dumps(NEW_TRADE))
    shown = run("preview", d, "--db", db, "--json")
    assert shown.returncode == 0, shown.stderr
    preview = json.loads(shown.stdout)
    sent = run("send", d, "--yes", "--db", db)
    assert sent.returncode == 0, sent.stdout + sent.stderr
    with sqlite3.connect(db) as c:
        (payload,) = c.execute("SELECT payload FROM journal WHERE kind = 'send' AND directive_id = ?",
                               (preview["directive_id"],)).fetchone()
    batch = json.loads(payload)["batch"]
    assert json.dumps(batch, sort_keys=True) == json.dumps(preview, sort_keys=True)
    assert preview["directive_id"].startswith("STR_")
    plans = len(export(db)["plans"])
    log = venue_log(db)
    again = run("send", d, "--yes", "--db", db)  # the same file again: the same id, a no-op
    assert again.returncode == 0, again.stdout + again.stderr
    assert "already opened by directive " + preview["directive_id"] in again.stdout
    assert venue_log(db) == log and len(export(db)["plans"]) == plans
    assert_ledger_matches_venue(db)


def test_flatten_all_with_no_active_plan_still_halts(tmp_path: Path) -> None:
    db = tmp_path / "desk.sqlite"
    seed(db, 1)
    assert run("flatten", "--all", "--yes", "--db", db).returncode == 0  # TPL_1 closed
    with sqlite3.connect(db) as c:
        c.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('desk', 'ACTIVE')")
    r = run("flatten", "--all", "--yes", "--db", db)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no active plans" in r.stderr and "HALTED" in r.stderr
    assert export(db)["desk"]["state"] == "HALTED"
