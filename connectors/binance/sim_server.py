"""Run the simulator in a background thread on 127.0.0.1 with a free port (tests, the demo, benchmarks)."""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn

from connectors.binance.sim import DEFAULT_API_KEY, DEFAULT_API_SECRET, create_app
from connectors.binance.sim_state import SimLimits, SimState
from connectors.binance.sim_ws import WsHub
from connectors.paper.engine import PaperEngine


@dataclass
class SimServer:
    base_url: str
    engine: PaperEngine
    state: SimState
    ws: WsHub
    api_key: str
    _server: uvicorn.Server = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    @property
    def ws_url(self) -> str:
        """The WebSocket API (user data stream); market streams are at `/stream?streams=...` on the same port."""
        return self.base_url.replace("http://", "ws://") + "/ws-api/v3"

    def control(self, **body: Any) -> dict[str, Any]:
        """POST /_sim/control (see SimState.control): latency_ms, skew_ms, faults, clear_faults, limits, marks, tick."""
        resp = httpx.post(f"{self.base_url}/_sim/control", json=body, timeout=5.0)
        resp.raise_for_status()
        result: dict[str, Any] = resp.json()
        return result

    @property
    def order_log(self) -> list[tuple[str, str]]:
        """(symbol, client order id) of every order the engine accepted, in order."""
        return list(self.engine.order_log)

    def accepted(self, client_order_id: str) -> int:
        """How many orders were accepted with this client order id."""
        return sum(1 for _s, c in self.engine.order_log if c == client_order_id)

    def stop(self, *, wait: bool = True) -> None:
        """Ask the server to exit; with `wait`, until its thread has ended (uvicorn needs ~0.2 s)."""
        self._server.should_exit = True
        if wait:
            self._thread.join(timeout=5.0)

    def __enter__(self) -> SimServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_sim_in_thread(
    engine: PaperEngine,
    api_key: str = DEFAULT_API_KEY,
    api_secret: str = DEFAULT_API_SECRET,
    *,
    limits: SimLimits | None = None,
    tick_interval: float | None = None,
    host: str = "127.0.0.1",
    omit: frozenset[str] = frozenset(),
    ed25519_keys: dict[str, str] | None = None,
    spot: Any = None,
) -> SimServer:
    """Start the simulator on `host` with a free port; returns once it accepts connections."""
    app = create_app(engine, api_key, api_secret, limits=limits, tick_interval=tick_interval, omit=omit,
                     ed25519_keys=ed25519_keys, spot=spot)
    # proto IPPROTO_TCP: asyncio only sets TCP_NODELAY on accepted sockets whose proto says TCP (else +40 ms)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="critical", access_log=False, lifespan="on", ws="websockets-sansio",
                            loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"binance-sim-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the Binance simulator did not start")
        time.sleep(0.005)
    return SimServer(
        base_url=f"http://{host}:{port}",
        engine=engine,
        state=app.state.sim,
        ws=app.state.ws,
        api_key=api_key,
        _server=server,
        _thread=thread,
    )
