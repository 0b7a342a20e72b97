"""The journal screen: entries listed with who/when/hash, filtered as typed, data never interpreted as markup."""

from __future__ import annotations

from textual.app import App
from textual.widgets import DataTable, Static

from core.journal import JournalEntry
from tui.screens.journal_screen import JournalScreen


def entries() -> list[JournalEntry]:
    return [
        JournalEntry(seq=1, time="2026-12-02T10:00:00.000Z", kind="preview", directive_id="STR_1", operator="anna",
                     payload={"digest": "ab" * 32, "summary": "3 commands", "plan_versions": {"TPL_1": 3}}),
        JournalEntry(seq=2, time="2026-12-02T10:00:01.000Z", kind="report", directive_id="STR_1", operator="anna",
                     payload={"summary": "3 acknowledged", "outcomes": [{"plan_id": "TPL_1"}]}),
        JournalEntry(seq=3, time="2026-12-02T10:05:00.000Z", kind="report", directive_id="STR_2", operator="bob",
                     payload={"summary": "[bold]x\x1b[31m", "outcomes": [{"plan_id": "TPL_2"}]}),
    ]


class Host(App[None]):
    def __init__(self, flt: str = "") -> None:
        super().__init__()
        self.flt = flt

    def on_mount(self) -> None:
        self.push_screen(JournalScreen(entries(), initial_filter=self.flt))


async def test_lists_and_filters_as_typed() -> None:
    app = Host()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.row_count == 3
        await pilot.press("slash", *"tpl_2")
        await pilot.pause()
        assert table.row_count == 1
        row = table.get_row_at(0)
        assert row[2] == "bob" and "\\x1b" in str(row[6])  # the escape is shown, not sent to the terminal
        await pilot.press("escape")  # escape closes the screen, also from the filter field
        await pilot.pause()
        assert not isinstance(app.screen, JournalScreen)


async def test_opened_from_a_plan_row_starts_filtered() -> None:
    app = Host("TPL_1")
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.row_count == 2
        assert table.get_row_at(0)[5] == "abababababab"


async def test_one_day_names_the_date_once_and_the_highlighted_entry_is_shown_whole() -> None:
    app = Host()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        screen = app.screen
        table = screen.query_one(DataTable)
        assert "2026-12-02 (UTC)" in str(screen.query_one("#journal-title", Static).render())
        assert table.get_row_at(0)[1] == "10:00:00"
        full = str(screen.query_one("#journal-entry", Static).render())
        assert full.startswith("#3 2026-12-02 10:05:00.000 UTC") and "[bold]x\\x1b[31m" in full  # the newest, whole
        await pilot.press("up", "up")
        await pilot.pause()
        full = str(screen.query_one("#journal-entry", Static).render())
        assert full.startswith("#1 ") and f"batch {'ab' * 32}" in full and "3 commands" in full


async def test_entries_of_several_days_carry_their_dates() -> None:
    class Days(App[None]):
        def on_mount(self) -> None:
            older = JournalEntry(seq=0, time="2026-12-01T23:59:59.000Z", kind="halt", directive_id=None,
                                 operator="bob", payload={"summary": "desk halted"})
            self.push_screen(JournalScreen([older, *entries()]))

    app = Days()
    async with app.run_test(size=(120, 30)) as pilot:
        await pilot.pause()
        table = app.screen.query_one(DataTable)
        assert table.get_row_at(0)[1] == "2026-12-01 23:59:59"
        assert "(UTC)" not in str(app.screen.query_one("#journal-title", Static).render())
