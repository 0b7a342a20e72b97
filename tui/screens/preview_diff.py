"""What changed between a preview refused as stale and the fresh one that replaces it (issue 8 item 1, DESIGN §3):
one line per difference, for Preview.changes. Pure: no Textual."""

from __future__ import annotations

from dataclasses import replace

from tui.bridge_view import PlanRow, Preview
from tui.screens.preview_parts import command_cells
from tui.widgets.fmt import num, signed


def _command_lines(p: Preview) -> list[str]:
    return [" ".join(text for text, _ in command_cells(c, p.orders)[1:9]) for c in p.batch.commands]


def preview_changes(old: Preview, new: Preview, rows_then: dict[str, PlanRow],
                    rows_now: dict[str, PlanRow]) -> tuple[str, ...]:
    lines: list[str] = []
    for pid, v_new in new.batch.plan_versions.items():
        v_old = old.batch.plan_versions.get(pid)
        then, now = rows_then.get(pid), rows_now.get(pid)
        if then is not None and now is not None:
            if then.net != now.net:
                lines.append(f"{pid}: position {signed(then.net)} → {signed(now.net)}")
            if then.stop != now.stop:
                lines.append(f"{pid}: stop {num(then.stop)} → {num(now.stop)}")
            if then.open_orders != now.open_orders:
                lines.append(f"{pid}: open orders {then.open_orders} → {now.open_orders}")
        if v_old is not None and v_old != v_new and not any(line.startswith(f"{pid}:") for line in lines):
            lines.append(f"{pid}: changed (version {v_old} → {v_new})")
    gone = sorted(set(old.orders) - set(new.orders))
    came = sorted(set(new.orders) - set(old.orders))
    for oid in gone:
        lines.append(f"order {oid} is no longer open")
    for oid in came:
        lines.append(f"order {oid} is new")
    before, after = _command_lines(old), _command_lines(new)
    for c in before:
        if c not in after:
            lines.append(f"command dropped: {c}")
    for c in after:
        if c not in before:
            lines.append(f"command now: {c}")
    return tuple(lines) or ("the plans' versions changed; the commands are the same",)


def with_changes(old: Preview, new: Preview, rows_then: dict[str, PlanRow], rows_now: dict[str, PlanRow]) -> Preview:
    return replace(new, changes=preview_changes(old, new, rows_then, rows_now))
