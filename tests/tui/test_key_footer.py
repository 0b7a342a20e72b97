"""KeyFooter: the modal screens' key line shows the shown bindings with the keymap's keys, follows binding changes,
and a click on a key presses it."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.widgets.key_footer import KeyFooter


class Dialog(ModalScreen[None]):
    BINDINGS = [
        Binding("y", "send", "Send", id="dlg.send"),
        Binding("escape", "dismiss", "Cancel", id="dlg.cancel"),
        Binding("z", "hidden", "Hidden", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.sent = 0
        self.can_send = True

    def compose(self) -> ComposeResult:
        yield Static("dialog")
        yield KeyFooter()

    def action_send(self) -> None:
        self.sent += 1

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "send" and not self.can_send else True  # None: shown disabled


class Host(App[None]):
    def on_mount(self) -> None:
        self.push_screen(Dialog())


async def test_hints_follow_the_keymap_and_the_bindings_and_a_click_presses_the_key() -> None:
    app = Host()
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, Dialog)
        footer = screen.query_one(KeyFooter)
        assert str(footer.render()) == " y Send  esc Cancel "
        await pilot.click(KeyFooter, offset=(1, 0))  # on " y "
        await pilot.pause()
        assert screen.sent == 1
        app.set_keymap({"dlg.send": "s"})
        await pilot.pause()
        line = str(footer.render())
        assert " s Send " in line and " y " not in line  # (in the order Textual's Footer shows them)
        await pilot.press("s")
        assert screen.sent == 2
        screen.can_send = False
        screen.refresh_bindings()
        await pilot.pause()
        [(key, _shown, _desc, enabled)] = [h for h in footer.hints() if h[2] == "Send"]
        assert key == "s" and not enabled
        line = footer.render()
        assert line.get_style_at_offset(app.console, str(line).index(" s ") + 1).dim


class Desk(App[None]):
    BINDINGS = [Binding("t", "stop", "Stop", id="desk.stop"), Binding("q", "quit", "Quit", id="desk.quit")]

    def compose(self) -> ComposeResult:
        yield Static("desk")
        yield KeyFooter(palette=True)

    def action_stop(self) -> None:
        pass


async def test_the_main_screens_key_line_shows_the_palette_key_at_its_right_edge_and_a_click_opens_it() -> None:
    from textual.command import CommandPalette

    app = Desk()
    async with app.run_test(size=(60, 10)) as pilot:
        await pilot.pause()
        footer = app.query_one(KeyFooter)
        line = str(footer.render())
        assert line.startswith(" t Stop  q Quit ")
        assert line.endswith("▏^p palette ") and len(line) == 60  # as Textual's Footer: docked right
        await pilot.click(KeyFooter, offset=(50, 0))  # on "^p"
        await pilot.pause()
        assert isinstance(app.screen, CommandPalette)


async def test_on_a_narrow_terminal_the_keys_are_cut_and_the_palette_key_stays() -> None:
    app = Desk()
    async with app.run_test(size=(20, 10)) as pilot:
        await pilot.pause()
        line = str(app.query_one(KeyFooter).render())
        assert line == " t Stop ▏^p palette " and len(line) == 20

