"""The action inputs: stop (`t`), scale (`s`), new plan (`n`) and the resume confirmation. Each checks the input as
it is typed and says what is wrong in words; enter with a bad value sends nothing and keeps the dialog open.
The many-plan forms (marked plans) are in tui.screens.many_inputs."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from core.models import MarketRules, Side
from tui.bridge_view import PlanRow, quote_of
from tui.screens.forms import NewPlanInput, ScaleInput, StopInput, parse_new_plan, parse_scale, parse_stop
from tui.widgets.desk_input import DeskInput, panic_binding
from tui.widgets.fmt import avg, num, pct, signed
from tui.widgets.key_footer import KeyFooter

T = TypeVar("T")


class DialogBox(VerticalScroll, can_focus=False):
    """A dialog's body: scrolls on a short terminal, never takes the focus from its fields."""


def plan_context(row: PlanRow) -> Text:
    t = Text()
    long = row.side is Side.BUY
    t.append(f"{row.plan_id} ", "bold")
    t.append(f"{row.symbol} ")
    t.append("LONG" if long else "SHORT", "green" if long else "magenta")
    t.append(f"   position {signed(row.net)}")
    if row.net:
        t.append(f" @ {avg(row.avg_entry)}")
    t.append(f"   mark {num(row.mark)}")
    return t


class ActionInput(ModalScreen[T | None], Generic[T]):
    """A dialog with one or more inputs, a live feedback line and enter / escape."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="input.cancel"), panic_binding("input")]
    TITLE_TEXT = ""

    def __init__(self, *, cursor_blink: bool = True) -> None:
        super().__init__(classes="action-input")
        self.cursor_blink = cursor_blink
        self.attempts = 0  # enter presses refused (tests read it)
        self._insist = False  # the last enter was refused: keep saying "not sent" while live data re-checks
        self.is_dismissing = False  # set on the first enter / esc that closes the dialog: later keys are ignored

    def compose(self) -> ComposeResult:
        with DialogBox(classes="dialog"):
            yield Static(self.TITLE_TEXT, classes="dialog-title")
            yield from self.body()
            yield Static("", id="feedback", classes="feedback")
            yield Static(self.hint(), classes="hint")
        yield KeyFooter()

    def body(self) -> ComposeResult:  # pragma: no cover - overridden
        yield from ()

    def hint(self) -> str:
        return "enter: preview (nothing is sent yet) · esc: cancel"

    def on_mount(self) -> None:
        for inp in self.query(Input):
            inp.cursor_blink = self.cursor_blink
        self.refresh_feedback()

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        self._insist = False  # typing again: the "not sent" of the last enter no longer applies
        self.refresh_feedback()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.is_dismissing:
            return  # a second enter in the same read: the first one already chose
        self.before_submit(event.input)
        try:
            value = self.result()
        except Exception:  # noqa: BLE001 - see refresh_feedback
            value = None
        if value is None:
            self.attempts += 1
            self._insist = True
            self.refresh_feedback(insist=True)
            self.app.bell()
            return
        self.is_dismissing = True
        self.dismiss(value)

    def action_cancel(self) -> None:
        if not self.is_dismissing:
            self.is_dismissing = True
            self.dismiss(None)

    def row_changed(self, rows: list[PlanRow]) -> None:
        """Live data: re-check the input against the newest row of this dialog's plan (mark, stop, position)."""
        mine = getattr(self, "row", None)
        for r in rows:
            if mine is not None and r.plan_id == mine.plan_id:
                self.row = r
                self.query_one("#plan-context", Static).update(plan_context(r))
                self.context_changed()
                self.refresh_feedback(insist=self._insist)

    def context_changed(self) -> None:
        """Live data moved the plan's row: refresh lines computed from it."""

    # -- subclasses (Textual calls on_* handlers of every class in the MRO: subclasses override these hooks)
    def before_submit(self, source: Input) -> None:
        """Called on enter, before the value is checked."""

    def result(self) -> T | None:  # pragma: no cover - overridden
        return None

    def feedback(self) -> tuple[str, bool]:  # pragma: no cover - overridden
        """(text, is_error)."""
        return "", False

    def refresh_feedback(self, *, insist: bool = False) -> None:
        try:
            text, is_error = self.feedback()
        except Exception as exc:  # noqa: BLE001 - a check must never kill the console while the operator types
            text, is_error = f"cannot read this input ({exc.__class__.__name__}): fix it", True
        fb = self.query_one("#feedback", Static)
        if is_error and insist:
            text = "not sent: " + text
        fb.update(Text(("✗ " if is_error else "→ ") + text if text else "", "bold red" if is_error else "green"))
        fb.set_class(is_error, "-error")

    @property
    def feedback_text(self) -> str:
        return str(self.query_one("#feedback", Static).render())


class StopScreen(ActionInput[StopInput]):
    TITLE_TEXT = "Move the stop"

    def __init__(self, row: PlanRow, rules: MarketRules | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.row, self.rules = row, rules

    def body(self) -> ComposeResult:
        yield Static(plan_context(self.row), classes="context", id="plan-context")
        yield Static(self._distance(), classes="context", id="stop-distance")
        yield Label("tolerance in % of the mark (1.5%) or the stop price itself (98500)")
        yield DeskInput(placeholder="type a tolerance % or a stop price", id="value")

    def _distance(self) -> str:
        cur = self.row.stop
        if cur is not None and self.row.mark:
            d = abs(self.row.mark - cur)
            return f"current stop {num(cur)}, {num(d)} ({pct(d / self.row.mark)}) from the mark {num(self.row.mark)}"
        return "no stop yet: a new STOP_MARKET for the whole position will be placed"

    def context_changed(self) -> None:
        self.query_one("#stop-distance", Static).update(self._distance())

    def _parsed(self) -> StopInput:
        return parse_stop(self.query_one("#value", Input).value, self.row, self.rules)

    def feedback(self) -> tuple[str, bool]:
        if not self.query_one("#value", Input).value.strip():
            return "", False
        p = self._parsed()
        if p.error:
            return p.error, True
        cur = f"{num(self.row.stop)} → " if self.row.stop is not None else ""
        return f"stop {cur}{num(p.new_stop)}: " + p.note.removeprefix(f"new stop {num(p.new_stop)}, "), False

    def result(self) -> StopInput | None:
        p = self._parsed()
        return p if p.ok else None


class ScaleScreen(ActionInput[ScaleInput]):
    TITLE_TEXT = "Scale to an absolute size"

    def __init__(self, row: PlanRow, rules: MarketRules | None, **kw: Any) -> None:
        super().__init__(**kw)
        self.row, self.rules = row, rules

    def body(self) -> ComposeResult:
        yield Static(plan_context(self.row), classes="context", id="plan-context")
        step = num(self.rules.step_size) if self.rules else "?"
        yield Static(f"step size {step} · min order {num(self.rules.min_notional) if self.rules else '?'} "
                     f"{quote_of(self.row.symbol)} · current size {num(abs(self.row.net))}", classes="context")
        yield Label("target size: 1.5 is the absolute target · 50% is half of now · +5% / -5% add / remove 5 % "
                    "of now · +0.5 / -0.25 add / remove that amount", id="scale-help")
        yield DeskInput(placeholder="type a target, a %, or +/- an amount", id="value")

    def _parsed(self) -> ScaleInput:
        return parse_scale(self.query_one("#value", Input).value, self.row, self.rules)

    def feedback(self) -> tuple[str, bool]:
        if not self.query_one("#value", Input).value.strip():
            return "", False
        p = self._parsed()
        return (p.error, True) if p.error else (p.note, False)

    def result(self) -> ScaleInput | None:
        p = self._parsed()
        return p if p.ok else None


class NewPlanScreen(ActionInput[NewPlanInput]):
    TITLE_TEXT = "Open a new plan"
    FIELDS = (("symbol", "symbol", "type a symbol (see the markets above)"),
              ("direction", "direction", "type long or short"),
              ("size", "size (base asset)", "type a size in the base asset"),
              ("stop", "stop distance % (optional)", "type a % from the mark, or leave empty"))

    def __init__(self, markets: dict[str, MarketRules], **kw: Any) -> None:
        super().__init__(**kw)
        self.markets = markets

    def body(self) -> ComposeResult:
        yield Static("markets: " + "  ".join(f"{s} {num(r.mark_price)}" for s, r in sorted(self.markets.items())),
                     classes="context")
        for key, label, placeholder in self.FIELDS:
            yield Label(label)
            yield DeskInput(placeholder=placeholder, id=f"f-{key}")
            yield Static("", id=f"err-{key}", classes="field-error")

    def hint(self) -> str:
        return "tab: next field · enter: preview (nothing is sent yet) · esc: cancel"

    def _values(self) -> dict[str, str]:
        return {key: self.query_one(f"#f-{key}", Input).value for key, _, _ in self.FIELDS}

    def _parsed(self) -> NewPlanInput:
        v = self._values()
        return parse_new_plan(v["symbol"], v["direction"], v["size"], v["stop"], self.markets)

    def refresh_feedback(self, *, insist: bool = False) -> None:
        p = self._parsed()
        values = self._values()
        for key, _, _ in self.FIELDS:
            err = p.errors.get(key, "")
            show = err if (values[key].strip() or insist) else ""
            err_line = self.query_one(f"#err-{key}", Static)
            err_line.update(Text(f"✗ {show}" if show else "", "bold red"))
            err_line.display = bool(show)
        super().refresh_feedback(insist=insist)

    def feedback(self) -> tuple[str, bool]:
        p = self._parsed()
        if p.ok:
            return p.note, False
        filled = [k for k, v in self._values().items() if v.strip()]
        if not filled:
            return "", False
        return "fix the fields marked in red", True

    def before_submit(self, source: Input) -> None:
        p = self._parsed()
        if not p.ok:
            bad = [k for k, _, _ in self.FIELDS if k in p.errors]
            if bad and source.id != f"f-{bad[0]}":
                self.query_one(f"#f-{bad[0]}", Input).focus()

    def result(self) -> NewPlanInput | None:
        p = self._parsed()
        return p if p.ok else None


class ConfirmScreen(ModalScreen[bool]):
    """y confirms, n or escape declines."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no"),
        panic_binding("confirm"),
    ]

    def __init__(self, title: str, detail: str) -> None:
        super().__init__(classes="action-input")
        self.title_text, self.detail = title, detail
        self._answered = False

    def compose(self) -> ComposeResult:
        with DialogBox(classes="dialog"):
            yield Static(self.title_text, classes="dialog-title")
            yield Static(self.detail, classes="context")
            yield Static("y: yes · n / esc: no", classes="hint")
        yield KeyFooter()

    def action_answer(self, yes: bool) -> None:
        if not self._answered:
            self._answered = True
            self.dismiss(yes)
