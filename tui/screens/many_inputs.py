"""The many-plan forms: with plans marked in the table, `t` and `s` open these (ManyStopScreen, ManyScaleScreen):
one value for every marked plan, checked against each of them as it is typed; the result lists the plans one
directive will target, and those left out (with why)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import Input, Label, Static

from core.models import MarketRules
from tui.bridge_view import PlanRow
from tui.screens.action_inputs import ActionInput
from tui.screens.forms import parse_scale, parse_stop
from tui.widgets.desk_input import DeskInput
from tui.widgets.fmt import num

RowsSource = Callable[[], list[PlanRow]]


@dataclass(frozen=True)
class ManyInput:
    """One value over many plans: the plans it applies to, and those it leaves out (plan id -> why)."""

    plan_ids: list[str]
    skipped: dict[str, str] = field(default_factory=dict)
    tolerance: Decimal | None = None  # stop
    price: Decimal | None = None  # stop (all plans on one symbol and side)
    target: Decimal | None = None  # scale
    note: str = ""


def _plans(n: int) -> str:
    return f"{n} plan{'s' * (n != 1)}"


def many_context(rows: list[PlanRow]) -> Text:
    symbols: dict[str, int] = {}
    for r in rows:
        symbols[r.symbol] = symbols.get(r.symbol, 0) + 1
    t = Text()
    t.append(f"{_plans(len(rows))} marked", "bold")
    t.append("   " + "  ".join(f"{s} ×{n}" for s, n in sorted(symbols.items())))
    return t


class ManyInputScreen(ActionInput[ManyInput]):
    """A form whose one value is checked against every marked plan (`rows()` gives them at the newest marks)."""

    LABEL = ""
    PLACEHOLDER = ""

    def __init__(self, rows: RowsSource, markets: dict[str, MarketRules], **kw: Any) -> None:
        super().__init__(**kw)
        self.rows, self.markets = rows, markets
        self.count = len(rows())
        self._last: tuple[str, ManyInput | str] | None = None

    def body(self) -> ComposeResult:
        yield Static(many_context(self.rows()), classes="context", id="plan-context")
        yield Label(self.LABEL)
        yield DeskInput(placeholder=self.PLACEHOLDER, id="value")

    def _text(self) -> str:
        return self.query_one("#value", Input).value.strip()

    def checked(self) -> ManyInput | str:  # pragma: no cover - overridden
        """The value over the plans, or what is wrong with it."""
        return ""

    def _checked(self) -> ManyInput | str:
        """checked() for the text in the field, computed once per text: enter right after a key reuses what that
        key's check found (over 2,000 plans the check costs tens of ms; the worker checks every plan again)."""
        text = self._text()
        if self._last is None or self._last[0] != text:
            self._last = (text, self.checked())
        return self._last[1]

    def row_changed(self, rows: list[PlanRow]) -> None:  # live data: the next check reads the newest rows
        self._last = None

    def feedback(self) -> tuple[str, bool]:
        if not self._text():
            return "", False
        got = self._checked()
        if isinstance(got, str):
            return got, True
        return got.note, False

    def result(self) -> ManyInput | None:
        got = self._checked()
        return None if isinstance(got, str) else got


def _skipped_note(skipped: dict[str, str]) -> str:
    if not skipped:
        return ""
    first = next(iter(skipped.items()))
    return f"; {_plans(len(skipped))} left out ({first[0]}: {first[1]}{', …' if len(skipped) > 1 else ''})"


class ManyStopScreen(ManyInputScreen):
    """`t` with plans marked: one tolerance from each plan's own mark (a price only when they share a symbol and a
    side). Plans whose stop that would not tighten are left out, and named."""

    LABEL = "tolerance in % of each plan's mark (1%); a stop price only if every marked plan is one symbol and side"
    PLACEHOLDER = "type a tolerance %"

    def __init__(self, rows: RowsSource, markets: dict[str, MarketRules], **kw: Any) -> None:
        super().__init__(rows, markets, **kw)
        self.TITLE_TEXT = f"Move the stops of {_plans(self.count)}"

    def checked(self) -> ManyInput | str:
        text = self._text()
        rows = self.rows()
        if not text.endswith("%") and len({(r.symbol, r.side) for r in rows}) > 1:
            return "the marked plans are on more than one symbol or side: type a tolerance % of each mark"
        ok: list[str] = []
        skipped: dict[str, str] = {}
        last = None
        for r in rows:
            p = parse_stop(text, r, self.markets.get(r.symbol))
            if p.ok:
                ok.append(r.plan_id)
                last = p
            else:
                skipped[r.plan_id] = p.error or "?"
        if last is None:
            first = next(iter(skipped.items()), ("", "no plans marked"))
            return f"no marked plan would tighten: {first[0]} {first[1]}".replace("  ", " ")
        what = f"{num(last.tolerance * 100)} % from each mark" if last.tolerance is not None else num(last.new_stop)
        return ManyInput(plan_ids=ok, skipped=skipped, tolerance=last.tolerance, price=last.price,
                         note=f"stop {_plans(len(ok))} {what}" + _skipped_note(skipped))


class ManyScaleScreen(ManyInputScreen):
    """`s` with plans marked: one absolute target for each plan (or a % / +/- that comes to the same target for
    all of them: one directive carries one target size)."""

    LABEL = ("target size for each plan: 1.5 is the absolute target · 50% / +0.5 only when they come to one "
             "target (one directive carries one size)")
    PLACEHOLDER = "type a target size"

    def __init__(self, rows: RowsSource, markets: dict[str, MarketRules], **kw: Any) -> None:
        super().__init__(rows, markets, **kw)
        self.TITLE_TEXT = f"Scale {_plans(self.count)} to an absolute size"

    def checked(self) -> ManyInput | str:
        text = self._text()
        rows = self.rows()
        targets: dict[Decimal, list[str]] = {}
        for r in rows:
            p = parse_scale(text, r, self.markets.get(r.symbol))
            if not p.ok or p.target is None:
                return f"{r.plan_id}: {p.error}"
            targets.setdefault(p.target, []).append(r.plan_id)
        if not targets:
            return "no plans marked"
        if len(targets) > 1:
            shown = ", ".join(num(t) for t in sorted(targets)[:4]) + (", …" if len(targets) > 4 else "")
            return (f"{text} comes to {len(targets)} different targets ({shown}): one directive carries one target "
                    "size; type an absolute size, or mark plans of one size")
        [(target, ids)] = targets.items()
        symbols = sorted({r.symbol for r in rows})
        note = f"every one of {_plans(len(ids))} to {num(target)}"
        if len(symbols) > 1:
            note += f" (the same size on {', '.join(symbols)})"
        return ManyInput(plan_ids=ids, target=target, note=note)


