"""Orders at the venue that are not ours, in their own read-only screen (issue 11 item 5): symbol, side, type,
quantity, price, the venue's id and how long this console has seen it. There is no key here that acts on an order:
plandesk never cancels what is not its own. The listing comes from a worker (the app's `foreign_orders` action);
the screen only shows what it is given (methods down: `show(listing, ages, now)`)."""

from __future__ import annotations

from rich.markup import escape
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from core.connector import VenueOrder
from tui.foreign import ForeignListing
from tui.widgets.fmt import DASH, age, num

COLUMNS = ("symbol", "side", "type", "qty", "filled", "price", "stop", "venue id", "client id", "seen for")


def _clean(text: str | None, limit: int = 40) -> str:
    """Venue data is shown, never interpreted: control characters become visible escapes."""
    if not text:
        return DASH
    out = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    return out if len(out) <= limit else out[: limit - 1] + "…"


def order_cells(o: VenueOrder, seen: float | None, now: float) -> tuple[str | Text, ...]:
    return (
        _clean(o.symbol, 16),
        Text(str(o.side), style="green" if str(o.side) == "BUY" else "magenta"),
        str(o.order_type),
        Text(num(o.quantity), justify="right"),
        Text(num(o.filled_quantity) if o.filled_quantity else DASH, justify="right"),
        Text(num(o.price), justify="right"),
        Text(num(o.stop_price), justify="right"),
        _clean(o.exchange_order_id, 24),
        _clean(o.client_order_id, 36),
        age(None if seen is None else now - seen),
    )


class ForeignOrdersScreen(ModalScreen[None]):
    CSS_PATH = "foreign_orders.tcss"
    BINDINGS = [
        Binding("escape", "close", "Close", id="foreign_orders.close"),
        Binding("r", "reload", "Reload", id="foreign_orders.reload"),
    ]

    class Reload(Message):
        """The operator asked for a fresh listing (the app lists in a worker and calls `show`)."""

    def __init__(self) -> None:
        super().__init__(classes="foreign-orders")
        self.listing: ForeignListing | None = None  # what is on screen
        self._given: tuple[ForeignListing, dict[str, float], float] | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="foreign-box"):
            yield Static("Foreign orders: at the venue, not ours · read-only, never cancelled by plandesk",
                         id="foreign-title")
            yield DataTable(id="foreign-table", cursor_type="row", zebra_stripes=True)
            yield Static("asking the venue…", id="foreign-count")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.focus()
        if self._given is not None:
            self._fill(*self._given)

    def show(self, listing: ForeignListing, seen: dict[str, float], now: float) -> None:
        """Show a listing (kept until the screen is mounted if it arrives first)."""
        self._given = (listing, seen, now)
        if self.query_one(DataTable).columns:
            self._fill(listing, seen, now)

    def _fill(self, listing: ForeignListing, seen: dict[str, float], now: float) -> None:
        self.listing = listing
        table = self.query_one(DataTable)
        table.clear()
        for o in listing.orders:
            key = o.exchange_order_id or o.client_order_id
            table.add_row(*order_cells(o, seen.get(key), now), key=key)
        n = len(listing.orders)
        text = (f"{n} foreign order{'s' * (n != 1)} of {listing.venue_open} open at the venue" if n
                else f"no foreign orders ({listing.venue_open} open at the venue, all ours)")
        if listing.cancel_all_off:
            text += f" · cancel-all not used on {', '.join(escape(s) for s in listing.cancel_all_off)}"
        self.query_one("#foreign-count", Static).update(f"{text} · r reload · esc close")

    def failed(self, why: str) -> None:
        self.query_one("#foreign-count", Static).update(
            Text(f"could not list the venue's orders: {why} · r retry · esc close", style="red"))

    def action_reload(self) -> None:
        self.query_one("#foreign-count", Static).update("asking the venue…")
        self.post_message(self.Reload())

    def action_close(self) -> None:
        self.dismiss(None)
