"""Regenerate screenshots/: every screen of the console on the paper exchange with a frozen clock and fixed prices.

    python -m tui.screenshots [OUT_DIR]        (also `make screenshots`)

SVGs come from Textual; PNGs from `rsvg-convert` (Debian/Ubuntu: `apt-get install librsvg2-bin`). The same scenes
are the snapshot tests (tests/tui/test_snapshots.py; the issue-11 scenes of tui.screenshot_scenes are
test_snapshots_many.py, test_snapshots_desk_views.py and test_order_snapshots.py)."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

FROZEN = 1767225600.0  # 2026-01-01 00:00:00 UTC
SIZE = (160, 50)
OPERATOR = "anna"
Pilot = Any


class GatedConnector:
    """Wraps a PaperConnector: place_order waits while `gate` is clear, so a flatten can be shown with its cancels
    acknowledged and its closing trades in flight."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.gate = threading.Event()
        self.gate.set()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def place_order(self, request: Any) -> Any:
        while not self.gate.is_set():
            await asyncio.sleep(0.01)
        return await self._inner.place_order(request)


@dataclass
class Desk:
    app: Any
    bridge: Any
    connector: Any
    engine: Any

    @property
    def ledger(self) -> Any:
        return self.bridge.ledger

    def open_orders(self, plan_id: str) -> list[Any]:
        return [o for _pid, _s, o in self.ledger.open_orders(plan_id)]

    def venue_open(self, symbol: str) -> list[Any]:
        return list(self.engine.open_orders(symbol))

    def stop(self) -> None:
        if isinstance(self.connector, GatedConnector):
            self.connector.gate.set()
        self.bridge.stop()


def frozen_desk(folder: Path, *, gated: bool = False, poll: float = 3600.0, guard: float | None = None,
                guard_clock: Callable[[], float] | None = None) -> Desk:
    """The demo desk on a paper exchange that does not tick, a frozen clock, directive ids STR_T1, STR_T2, ...
    `poll` is the UI's poll interval (the default: no timer; pictures call app.poll() at fixed points)."""
    from connectors.paper.connector import PaperConnector
    from connectors.paper.engine import PaperEngine
    from connectors.paper.markets import DEFAULT_MARKETS
    from connectors.paper.orders import PaperConfig
    from core.demo import seed_demo_desk
    from tui.app import PlanDeskApp
    from tui.bridge import DeskBridge

    engine = PaperEngine(DEFAULT_MARKETS(), PaperConfig(seed=7))
    engine.set_mark("BTCUSDT", Decimal("100000"), FROZEN - 1.5)  # a known data age: 1.5 s

    def clock() -> float:
        return FROZEN

    paper = PaperConnector(engine, clock=clock)
    connector: Any = GatedConnector(paper) if gated else paper
    bridge = DeskBridge(connector, folder / "desk.sqlite", seed=seed_demo_desk, clock=clock, mark_interval=0.05,
                        health_interval=0.5)
    ids = itertools.count(1)
    kw: dict[str, Any] = {} if guard is None else {"confirm_guard": guard}
    if guard_clock is not None:
        kw["guard_clock"] = guard_clock
    app = PlanDeskApp(bridge, clock=clock, new_id=lambda: f"STR_T{next(ids)}", poll_interval=poll,
                      cursor_blink=False, **kw)
    return Desk(app, bridge, connector, engine)


# ------------------------------------------------------------------------------------------------ pilot helpers


async def until(pilot: Pilot, cond: Callable[[], bool], timeout: float = 5.0, what: str = "condition") -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while not cond():
        if loop.time() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


async def ready(pilot: Pilot, plans: int = 6) -> None:
    from tui.widgets.plans_table import PlansTable

    app = pilot.app
    await until(pilot, lambda: app.desk_ready and app.query_one(PlansTable).row_count == plans, 10, "the desk")
    await pilot.pause()


async def settle(pilot: Pilot, quiet: int = 3) -> None:
    """Until the activity log stops growing: poll, write out the lines it holds back (its burst window runs on the
    wall clock), `quiet` times in a row with nothing new. A picture with the log behind a dialog then does not depend
    on how fast this machine is."""
    from tui.widgets.activity import ActivityLog

    log = pilot.app.query_one(ActivityLog)
    seen, calm = -1, 0
    loop = asyncio.get_running_loop()
    end = loop.time() + 5.0
    while calm < quiet and loop.time() < end:
        pilot.app.poll()
        log.flush()
        await pilot.pause(0.05)
        n = len(log.lines_written) + len(log.lines)
        calm, seen = (calm + 1, seen) if n == seen else (0, n)


async def select(pilot: Pilot, plan_id: str) -> None:
    from tui.widgets.detail import PlanDetail
    from tui.widgets.plans_table import PlansTable

    table = pilot.app.query_one(PlansTable)
    table.select_plan(plan_id)
    await pilot.pause()
    assert table.selected_plan_id == plan_id
    # the detail pane fills from the bridge thread: wait for it, or a loaded machine takes the picture too early
    detail = pilot.app.query_one(PlanDetail)
    await until(pilot, lambda: detail.plan_id == plan_id, 5, f"the detail of {plan_id}")
    await pilot.pause()


async def screen_of(pilot: Pilot, kind: type) -> Any:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), 5, kind.__name__)
    await pilot.pause()
    return pilot.app.screen


async def preview_screen(pilot: Pilot, *, readable: bool = True) -> Any:
    """The preview on screen; with `readable`, also wait out its confirmation guard (DESIGN §3b) as a person
    reading it would, so that y / enter count."""
    from tui.screens.preview import PreviewScreen

    screen = await screen_of(pilot, PreviewScreen)
    if readable:
        await until(pilot, lambda: screen.confirm_ready, 5, "the confirmation guard")
    return screen


async def sent(pilot: Pilot, screen: Any, timeout: float = 8.0) -> Any:
    from tui.screens.preview import PreviewState

    await until(pilot, lambda: screen.state in (PreviewState.DONE, PreviewState.REFUSED), timeout, "the send")
    await pilot.pause(0.1)
    return screen


async def form_preview(pilot: Pilot, plan_id: str, key: str, form: type, value: str, *,
                       readable: bool = True) -> Any:
    """Select the plan, open its form with `key`, type `value` and press enter: the preview on screen."""
    await select(pilot, plan_id)
    await pilot.press(key)
    await screen_of(pilot, form)
    await fill(pilot, "#value", value)
    await pilot.press("enter")
    return await preview_screen(pilot, readable=readable)


async def stop_fill(pilot: Pilot, desk: Desk) -> None:
    """The market falls through TPL_1's stop (98,000): the stop fills and the take profit it orphaned is cancelled."""
    desk.engine.set_mark("BTCUSDT", Decimal("97000"), FROZEN)
    await until(pilot, lambda: (p := desk.ledger.get_plan("TPL_1")).net_position == 0 and not p.open_orders,
                what="the stop fill and the take profit it orphaned cancelled")


async def fill(pilot: Pilot, selector: str, text: str) -> None:
    inp = pilot.app.screen.query_one(selector)
    inp.focus()
    inp.value = text
    inp.cursor_position = len(text)
    await pilot.pause()


# ------------------------------------------------------------------------------------------------ scenes


async def _main(pilot: Pilot, desk: Desk) -> None:
    await select(pilot, "TPL_2")


async def _stop(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.action_inputs import StopScreen

    await pilot.press("t")
    await screen_of(pilot, StopScreen)
    await fill(pilot, "#value", "1%")


async def _scale(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.action_inputs import ScaleScreen

    await pilot.press("s")
    await screen_of(pilot, ScaleScreen)
    await fill(pilot, "#value", "50%")


async def _scale_error(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.action_inputs import ScaleScreen

    await pilot.press("s")
    await screen_of(pilot, ScaleScreen)
    await fill(pilot, "#value", "0.123456")


async def _new_plan(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.action_inputs import NewPlanScreen

    await pilot.press("n")
    await screen_of(pilot, NewPlanScreen)
    for field, value in (("symbol", "SOLUSDT"), ("direction", "long"), ("size", "0.01"), ("stop", "2")):
        await fill(pilot, f"#f-{field}", value)


async def _warnings(pilot: Pilot, desk: Desk) -> None:
    from tui.screens.action_inputs import ScaleScreen

    screen = await form_preview(pilot, "TPL_3", "s", ScaleScreen, "0.01")
    assert screen.batch.warnings and not screen.batch.errors


async def _errors(pilot: Pilot, desk: Desk) -> None:
    from core.models import DeskStatus
    from tui.screens.action_inputs import ScaleScreen
    from tui.screens.desk_state import DeskStateScreen

    await pilot.press("h")  # the desk state dialog: to HALTED, read, confirmed
    dlg = await screen_of(pilot, DeskStateScreen)
    while dlg.proposed is not DeskStatus.HALTED:
        await pilot.press("h")
    await until(pilot, lambda: dlg.confirm_ready, what="the desk dialog's guard")
    await pilot.press("y")
    await until(pilot, lambda: pilot.app._desk is DeskStatus.HALTED, what="halt")
    await pilot.press("s")
    await screen_of(pilot, ScaleScreen)
    await fill(pilot, "#value", "+0.5")
    await pilot.press("enter")
    screen = await preview_screen(pilot)
    assert screen.batch.errors


async def _flatten_preview(pilot: Pilot, desk: Desk) -> None:
    await pilot.press("F")
    await preview_screen(pilot)


async def _flatten_progress(pilot: Pilot, desk: Desk) -> None:
    desk.connector.gate.clear()  # the closing trades wait; the cancels go through
    await pilot.press("F")
    screen = await preview_screen(pilot)
    await pilot.press("y")
    cancels = sum(1 for c in screen.batch.commands if c.action == "CANCEL_ORDER")

    def cancels_done() -> bool:
        pilot.app.poll()
        return sum(1 for o in screen.outcomes.values() if o.action == "CANCEL_ORDER" and o.status.is_final) == cancels

    await until(pilot, cancels_done, what="the cancels")
    plans = screen.query_one("#preview-plans")

    def rows_show_it() -> bool:  # the rows follow the bridge's view, a refresh behind the outcomes (a loaded machine)
        pilot.app.poll()
        return all("closing…" in plans.text_of(pid) for pid in screen.batch.plan_versions)  # type: ignore[attr-defined]

    await until(pilot, rows_show_it, what="the plans' rows closing")
    await pilot.pause(0.2)


async def _flatten_done(pilot: Pilot, desk: Desk) -> None:
    await pilot.press("F")
    screen = await preview_screen(pilot)
    await pilot.press("y")
    await sent(pilot, screen)
    await pilot.pause(0.3)


async def _stale(pilot: Pilot, desk: Desk) -> None:
    await select(pilot, "TPL_1")
    await pilot.press("c")
    screen = await preview_screen(pilot)
    await stop_fill(pilot, desk)
    await pilot.press("y")
    await sent(pilot, screen)


Steps = Callable[[Pilot, Desk], Awaitable[None]]


@dataclass(frozen=True)
class Scene:
    name: str
    what: str
    steps: Steps
    gated: bool = False


SCENES: list[Scene] = [
    Scene("01-main", "main screen: plans, detail tree, activity", _main),
    Scene("02-stop-input", "t: stop as a tolerance, converted to the new stop", _stop),
    Scene("03-scale-input", "s: scale with 50%, shown as the absolute target", _scale),
    Scene("04-scale-input-error", "s: a size finer than the step size, refused in words", _scale_error),
    Scene("05-new-plan-input", "n: new plan, checked field by field", _new_plan),
    Scene("06-preview-warnings", "preview with a warning (a stop too small to keep)", _warnings),
    Scene("07-preview-errors", "preview with an error: the desk is HALTED, sending disabled", _errors),
    Scene("08-flatten-preview", "F: flatten all, the preview", _flatten_preview),
    Scene("09-flatten-in-progress", "flatten sending: cancels acknowledged, closes in flight", _flatten_progress,
          gated=True),
    Scene("10-flatten-done", "flatten done: every plan flat, desk HALTED", _flatten_done),
    Scene("11-stale-preview", "a fill changed the plan after the preview: the close is re-translated", _stale),
]


#: the scenes also pictured at 120x35 and 80x24: one of each kind of screen
SMALL_SCENES = ("01-main", "02-stop-input", "05-new-plan-input", "06-preview-warnings", "08-flatten-preview",
                "10-flatten-done")


def hold_toasts(app: Any) -> None:
    """Toasts expire on the wall clock, so a loaded machine took some pictures with a toast and some without: in
    pictures every toast stays until the picture is taken."""
    notify = app.notify

    def held(*args: Any, **kw: Any) -> None:
        kw["timeout"] = 3600
        notify(*args, **kw)

    app.notify = held


def run_scene(scene: Scene, folder: Path, compare: Callable[..., Any] | None = None,
              size: tuple[int, int] = SIZE) -> Any:
    """Run a scene; with `compare` (pytest-textual-snapshot's snap_compare) return its result, else the SVG."""
    from textual._doc import take_svg_screenshot

    before = os.environ.get("PLANDESK_OPERATOR")
    os.environ["PLANDESK_OPERATOR"] = OPERATOR  # the journal's "who": the pictures do not depend on who runs them
    desk = frozen_desk(folder, gated=scene.gated)
    hold_toasts(desk.app)

    async def run_before(pilot: Pilot) -> None:
        await ready(pilot)
        await scene.steps(pilot, desk)
        await pilot.pause(0.1)

    try:
        if compare is not None:
            return compare(desk.app, terminal_size=size, run_before=run_before)
        return take_svg_screenshot(app=desk.app, terminal_size=size, run_before=run_before)
    finally:
        desk.stop()
        if before is None:
            os.environ.pop("PLANDESK_OPERATOR", None)
        else:
            os.environ["PLANDESK_OPERATOR"] = before


def to_png(svg: Path, png: Path) -> None:
    """rsvg-convert collapses the non-breaking spaces of Textual's SVG unless told to preserve them."""
    text = svg.read_text(encoding="utf-8").replace("<svg ", '<svg xml:space="preserve" ', 1)
    with tempfile.NamedTemporaryFile("w", suffix=".svg", delete=False, encoding="utf-8") as tmp:
        tmp.write(text)
    try:
        subprocess.run(["rsvg-convert", tmp.name, "-o", str(png)], check=True, capture_output=True, timeout=60)
    finally:
        Path(tmp.name).unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    out = Path(args[0]) if args else Path(__file__).resolve().parent.parent / "screenshots"
    out.mkdir(parents=True, exist_ok=True)
    rsvg = shutil.which("rsvg-convert")
    from tui.screenshot_scenes import WIDER_DAY

    plan = [(s, [SIZE] + ([(120, 35), (80, 24)] if s.name in SMALL_SCENES else [])) for s in SCENES] + WIDER_DAY
    with tempfile.TemporaryDirectory(prefix="plandesk-shots-") as tmp:
        for i, (scene, sizes) in enumerate(plan):
            folder = Path(tmp) / str(i)
            folder.mkdir()
            for size in sizes:
                sub = folder / f"{size[0]}x{size[1]}"
                sub.mkdir()
                name = scene.name if size == SIZE else f"{scene.name}-{size[0]}x{size[1]}"
                svg = out / f"{name}.svg"
                svg.write_text(run_scene(scene, sub, size=size), encoding="utf-8")
                line = f"{svg}"
                if rsvg:
                    to_png(svg, svg.with_suffix(".png"))
                    line += f"  {svg.with_suffix('.png').name}"
                print(f"{line}  — {scene.what}")
    if not rsvg:
        print("rsvg-convert not found: wrote the SVGs only. For the PNGs install it (Debian/Ubuntu: "
              "apt-get install librsvg2-bin; macOS: brew install librsvg) and run again.", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
