"""The paper account's store: what changed per call, two processes on one account without lost updates, damaged or
foreign files refused with the path named, legacy JSON converted."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.paper import DEFAULT_MARKETS, PaperConnector, PaperEngine, PaperStateError, load_engine
from core.connector import OrderRequest
from core.models import OrderType, Side, TimeInForce

ROOT = Path(__file__).resolve().parents[2]
BTC = "BTCUSDT"

WORKER = """
import asyncio, sys
from decimal import Decimal
from pathlib import Path
from connectors.paper import PaperConnector
from core.connector import OrderRequest
from core.models import OrderType, Side, TimeInForce

async def main(path, tag, n):
    conn = PaperConnector.open(Path(path))
    for i in range(n):
        await conn.place_order(OrderRequest(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.LIMIT,
            quantity=Decimal("0.001"), price=Decimal("50000"), time_in_force=TimeInForce.GTC,
            client_order_id=f"{tag}-{i}"))
        await conn.place_order(OrderRequest(symbol="BTCUSDT", side=Side.BUY, order_type=OrderType.MARKET,
            quantity=Decimal("0.001"), client_order_id=f"{tag}-m{i}"))
    await conn.close()

asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
"""


def limit(coid: str) -> OrderRequest:
    return OrderRequest(symbol=BTC, side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("0.001"),
                        price=Decimal("50000"), time_in_force=TimeInForce.GTC, client_order_id=coid)


def test_two_processes_on_one_account_lose_no_update(tmp_path: Path) -> None:
    path = tmp_path / "desk.sqlite.paper.json"
    asyncio.run(PaperConnector.open(path).close())
    n = 60
    procs = [subprocess.Popen([sys.executable, "-c", WORKER, str(path), tag, str(n)], cwd=ROOT)
             for tag in ("a", "b")]
    assert [p.wait(timeout=120) for p in procs] == [0, 0]
    engine = load_engine(path)
    open_ids = {o.client_order_id for o in engine.open_orders()}
    assert open_ids == {f"{t}-{i}" for t in "ab" for i in range(n)}
    assert engine.positions()[BTC] == Decimal("0.001") * 2 * n
    assert len(engine.trades()) == 2 * n
    assert len(engine.order_log) == 4 * n
    assert len(engine._orders) == 4 * n  # no venue order id handed out twice


async def test_a_connector_sees_what_another_wrote(tmp_path: Path) -> None:
    path = tmp_path / "venue"
    first, second = PaperConnector.open(path), PaperConnector.open(path)
    await first.place_order(limit("one"))
    assert [o.client_order_id for o in await second.open_orders()] == ["one"]
    await second.cancel_order(BTC, "one")
    assert await first.open_orders() == []
    await second.place_order(limit("two"))
    assert (await first.get_order(BTC, "two")) is not None
    await first.close()
    await second.close()


async def test_a_call_writes_only_what_changed(tmp_path: Path) -> None:
    path = tmp_path / "venue"
    conn = PaperConnector.open(path)
    for i in range(200):
        await conn.place_order(limit(f"o{i}"))
    assert conn.store is not None
    written: list[str] = []
    conn.store._db.set_trace_callback(written.append)
    await conn.place_order(limit("last"))
    conn.store._db.set_trace_callback(None)
    orders = [s for s in written if "INTO orders" in s]
    assert len(orders) == 1  # the one new order, not the 200 before it
    await conn.close()


@pytest.mark.parametrize("content", [b"not a database at all, just text", b"SQLite format 3\x00" + b"\x00" * 200])
def test_a_foreign_or_damaged_file_is_refused_with_its_path(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "venue"
    path.write_bytes(content)
    with pytest.raises(PaperStateError, match=str(path)):
        PaperConnector.open(path)


def test_a_foreign_sqlite_database_is_refused(tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "venue"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE other (x)")
    db.commit()
    db.close()
    with pytest.raises(PaperStateError, match="not a paper account"):
        PaperConnector.open(path)


def test_legacy_json_is_converted_and_duplicate_keys_refused(tmp_path: Path) -> None:
    engine = PaperEngine(DEFAULT_MARKETS())
    engine.submit(limit("kept"), 1.0)
    path = tmp_path / "venue.json"
    path.write_text(json.dumps(engine.to_dict()))
    assert [o.client_order_id for o in load_engine(path).open_orders()] == ["kept"]
    assert path.read_bytes().startswith(b"SQLite format 3")
    dup = tmp_path / "dup.json"
    dup.write_text('{"version": 1, "version": 1}')
    with pytest.raises(PaperStateError, match="duplicate key 'version'"):
        load_engine(dup)
