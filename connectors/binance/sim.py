"""A Binance Spot REST v3 compatible simulator (Starlette + uvicorn) on top of the paper matching engine.

    plandesk exchange-sim --port 8765 [--api-key K --api-secret S]

It accepts one API key pair (defaults below: they are public, for this loopback simulator only), checks signatures
(-1022) and timestamps (-1021), counts request weight and new orders per window and answers with the
`X-MBX-USED-WEIGHT-*` / `X-MBX-ORDER-COUNT-*` headers, gives 429 with Retry-After when a limit is crossed and 418
(an IP ban) to a client that sends again before the Retry-After has passed. POST /_sim/control injects faults (see
SimState.control); GET /_sim/orders gives the engine's order log (symbol, client order id) of every accepted order."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import json
import logging
import re
import sys
import time
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import parse_qsl, unquote

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send

from connectors.binance import sim_spot
from connectors.binance.signing import Signer
from connectors.binance.signing_ed25519 import Ed25519Verifier
from connectors.binance.sim_args import DEFAULT_API_KEY, DEFAULT_API_SECRET, add_arguments
from connectors.binance.sim_handlers import ENDPOINTS, ApiError, Endpoint
from connectors.binance.sim_market import MARKET_ENDPOINTS
from connectors.binance.sim_state import Fault, SimLimits, SimState, suffix
from connectors.binance.sim_ws import WsHub
from connectors.paper.engine import PaperEngine
from connectors.paper.markets import DEFAULT_MARKETS
from connectors.paper.orders import PaperConfig

log = logging.getLogger("connectors.binance.sim")
ALL_ENDPOINTS = ENDPOINTS | MARKET_ENDPOINTS
_SPOT_DECORATE = {"/api/v3/exchangeInfo": sim_spot.decorate_exchange_info, "/api/v3/account": sim_spot.decorate_account}

_SIGNATURE_RE = re.compile(r"(^|&)signature=([^&]*)")
_API_KEY_RE = re.compile(r"^[A-Za-z0-9-]{1,128}$")
_ALWAYS = frozenset({"timestamp", "recvWindow", "signature"})


class _DropConnection(Response):
    """Start a response, then go away without finishing it: the server closes the connection and the client sees
    it dropped mid-answer (the simulator's 'connection reset' / 'response lost')."""

    def __init__(self) -> None:
        super().__init__(content=b"")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-length", b"64"), (b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b"{", "more_body": True})


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body, separators=(",", ":")), status_code=status, media_type="application/json", headers=headers
    )


def create_app(
    engine: PaperEngine,
    api_key: str,
    api_secret: str,
    *,
    clock: Callable[[], float] = time.time,
    limits: SimLimits | None = None,
    tick_interval: float | None = None,
    omit: frozenset[str] = frozenset(),
    ed25519_keys: dict[str, str] | None = None,
    spot: sim_spot.SpotConfig | None = None,
) -> Starlette:
    """The simulator as an ASGI app. `tick_interval` (seconds) runs the engine's price walk in the background.
    `omit`: paths it does not serve (like a Binance-dialect venue with fewer endpoints): they answer 400
    `{"code": -1000, "msg": "Unknown endpoint."}`. `ed25519_keys`: more API keys, each with its Ed25519 public
    key (PEM); `api_key` itself is an HMAC key with `api_secret`. `spot`: spot realism (see sim_spot); without it
    the venue is the plain paper engine (no locked balances, shorting allowed), as the contract suite expects."""
    st = SimState(engine=engine, api_key=api_key, signer=Signer(api_secret), clock=clock)
    st.spot = spot
    hub = WsHub(st)
    st.ws_hub = hub
    st.keys = {api_key: st.signer} | {k: Ed25519Verifier(pem) for k, pem in (ed25519_keys or {}).items()}
    st.set_limits(limits or SimLimits())

    async def api(request: Request) -> Response:
        method, path = request.method, request.url.path
        arrived = st.now()
        if path in omit:
            st.log(method, path, 400, arrived, None)
            return _json(400, {"code": -1000, "msg": "Unknown endpoint."})
        ep = ALL_ENDPOINTS.get((method, path))
        if ep is None:
            known = any(p == path for _m, p in ALL_ENDPOINTS)
            return _json(405 if known else 404, {"code": -1000, "msg": f"Unknown endpoint {method} {path} (simulator)"})
        raw_body = (await request.body()).decode("utf-8", "replace")
        # Shielded: a client that gives up (timeout, disconnect) does not stop a request the venue already has.
        task = asyncio.ensure_future(_serve(st, ep, request, raw_body))
        response, coid = await asyncio.shield(task)
        st.log(method, path, response.status_code if not isinstance(response, _DropConnection) else 0, arrived, coid)
        return response

    async def control(request: Request) -> Response:
        try:
            body = await request.json() if (await request.body()) else {}
            ws = body.pop("ws", None)
            if "spot" in body:
                spot = body.pop("spot")
                st.spot = None if spot is None else sim_spot.SpotConfig.from_dict(spot)
            ws_out = hub.control(ws) if ws is not None else None  # faults first: they apply to what follows
            out = st.control(body)
            if ws_out is not None:
                out["ws"] = ws_out
            return JSONResponse(out)
        except (ValueError, TypeError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, status_code=400)

    async def orders(request: Request) -> Response:
        return JSONResponse({"order_log": [list(k) for k in st.engine.order_log]})

    async def requests(request: Request) -> Response:
        return JSONResponse({"requests": st.requests})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        task = asyncio.create_task(_ticker(st, tick_interval)) if tick_interval else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    routes = [
        Route("/_sim/control", control, methods=["POST"]),
        Route("/_sim/orders", orders, methods=["GET"]),
        Route("/_sim/requests", requests, methods=["GET"]),
        Route("/api/{rest:path}", api, methods=["GET", "POST", "DELETE", "PUT"]),
        WebSocketRoute("/ws-api/v3", hub.serve_api),
        WebSocketRoute("/stream", hub.serve_streams),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.sim = st
    app.state.ws = hub
    return app


async def _ticker(st: SimState, interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        st.engine.tick(st.now())


async def _serve(st: SimState, ep: Endpoint, request: Request, raw_body: str) -> tuple[Response, str | None]:
    method, path = request.method, request.url.path
    if st.latency > 0:
        await asyncio.sleep(st.latency)
    fault = st.take_fault(method, path)
    if fault is not None and fault.kind == "delay" and not fault.execute:
        await asyncio.sleep(fault.seconds)
    if fault is not None and fault.kind == "reset":
        return _DropConnection(), None
    raw_query = request.url.query
    params = dict(parse_qsl(raw_query, keep_blank_values=True))
    if raw_body:
        params |= dict(parse_qsl(raw_body, keep_blank_values=True))
    coid = params.get("newClientOrderId") or params.get("origClientOrderId") or params.get("cancelOrigClientOrderId")
    now = st.now()
    headers: dict[str, str] = {}
    try:
        _limits_before(st, ep, params, now, fault, headers)
        if ep.signed:
            _authenticate(st, request, raw_query, raw_body, params, now)
        unknown = set(params) - ep.params - _ALWAYS
        if unknown:
            n = len(params)
            raise ApiError(
                -1104, f"Not all sent parameters were read; read '{n - len(unknown)}' parameter(s) but was sent '{n}'."
            )
        if ep.orders:
            _count_order(st, now, headers)
        if fault is not None and fault.kind in ("5xx", "timeout") and not fault.execute:
            return _fault_reply(fault, headers), coid
        expire = st.spot is not None and bool(ep.orders) and sim_spot.check(st, path, params)
        body = sim_spot.expire_in_match(st, params, now) if expire else ep.handler(st, params, now)
        if st.spot is not None and path in _SPOT_DECORATE:
            body = _SPOT_DECORATE[path](st, body)
    except ApiError as exc:
        return _json(exc.status, exc.body(), headers | exc_headers(exc)), coid
    if fault is not None:
        if fault.kind == "lost":
            return _DropConnection(), coid
        if fault.kind in ("5xx", "timeout"):
            return _fault_reply(fault, headers), coid
        if fault.kind == "delay" and fault.execute:
            await asyncio.sleep(fault.seconds)
    return _json(200, body, headers), coid


def exc_headers(exc: ApiError) -> dict[str, str]:
    return {"Retry-After": str(exc.retry_after)} if exc.retry_after is not None else {}


def _fault_reply(fault: Fault, headers: dict[str, str]) -> Response:
    if fault.kind == "timeout":
        msg = "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
        return _json(fault.status if fault.status != 503 else 408, {"code": -1007, "msg": msg}, headers)
    return _json(
        fault.status,
        {"code": -1001, "msg": "Internal error; unable to process your request. Please try again."},
        headers,
    )


def _too_many(code: int, msg: str, status: int, retry_after: int) -> ApiError:
    return ApiError(code, msg, status=status, retry_after=retry_after)


#: Binance bans an IP that "fails to back off" after a 429, not the requests that were already on the wire when the
#: 429 was sent: those get a 429 of their own for this long after the first one.
IN_FLIGHT_GRACE = 0.25


def _limits_before(
    st: SimState, ep: Endpoint, params: dict[str, str], now: float, fault: Fault | None, headers: dict[str, str]
) -> None:
    lim = st.limits
    if now < st.banned_until:
        raise _banned(st, now)
    if now < st.retry_until:
        wait = max(1, int(st.retry_until - now + 0.999))
        if now - st.retry_since <= IN_FLIGHT_GRACE:  # already in flight when the 429 went out: another 429
            raise _too_many(-1003, "Too many requests; please back off.", 429, wait)
        st.banned_until = now + lim.ban_seconds  # failed to back off after a 429: the IP is banned
        st.retry_until = 0.0
        raise _banned(st, now)
    w = st.weight.at(now)
    if fault is not None and fault.kind == "429":
        wait = max(1, int(fault.seconds or 1))
        st.retry_until = now + wait
        st.retry_since = now
        raise _too_many(-1003, "Too many requests; please back off (injected by the simulator).", 429, wait)
    weight = ep.weight(params)
    if w.used + weight > lim.weight_limit:
        wait = w.remaining_seconds(now)
        st.retry_until = now + wait
        st.retry_since = now
        headers[f"X-MBX-USED-WEIGHT-{suffix(lim.weight_interval)}"] = str(w.used)
        raise _too_many(
            -1003,
            f"Too many requests; current limit of IP(127.0.0.1) is {lim.weight_limit} requests per "
            f"{_per(lim.weight_interval)}. Please use the websocket for live updates to avoid polling the API.",
            429,
            wait,
        )
    w.used += weight
    headers[f"X-MBX-USED-WEIGHT-{suffix(lim.weight_interval)}"] = str(w.used)


def _per(seconds: int) -> str:
    return "minute" if seconds == 60 else f"{seconds} seconds"


def _banned(st: SimState, now: float) -> ApiError:
    until = int(st.banned_until * 1000)
    return _too_many(
        -1003,
        f"Way too many requests; IP(127.0.0.1) banned until {until}. Please use the websocket for live updates to "
        "avoid bans.",
        418,
        max(1, int(st.banned_until - now + 0.999)),
    )


def _count_order(st: SimState, now: float, headers: dict[str, str]) -> None:
    lim = st.limits
    o, d = st.orders.at(now), st.orders_day.at(now)
    for counter, limit, seconds in ((o, lim.order_limit, lim.order_interval), (d, lim.order_day_limit, 86400)):
        if counter.used + 1 > limit:
            wait = counter.remaining_seconds(now)
            st.retry_until = now + wait
            st.retry_since = now
            headers[f"X-MBX-ORDER-COUNT-{suffix(seconds)}"] = str(counter.used)
            raise _too_many(
                -1015, f"Too many new orders; current limit is {limit} orders per {_unit(seconds)}.", 429, wait
            )
    o.used += 1
    d.used += 1
    headers[f"X-MBX-ORDER-COUNT-{suffix(lim.order_interval)}"] = str(o.used)
    headers["X-MBX-ORDER-COUNT-1D"] = str(d.used)


def _unit(seconds: int) -> str:
    if seconds == 86400:
        return "DAY"
    return f"{seconds} SECOND" if seconds % 60 else f"{seconds // 60} MINUTE"


def _authenticate(
    st: SimState, request: Request, raw_query: str, raw_body: str, params: dict[str, str], now: float
) -> None:
    key = request.headers.get("X-MBX-APIKEY", "")
    if not key or not _API_KEY_RE.match(key):
        raise ApiError(-2014, "API-key format invalid.", status=401)
    verifier = next((v for k, v in st.keys.items() if hmac.compare_digest(key.encode(), k.encode())), None)
    if verifier is None:
        raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", status=401)
    if not params.get("timestamp"):
        raise ApiError(-1102, "Mandatory parameter 'timestamp' was not sent, was empty/null, or malformed.")
    try:
        ts = int(params["timestamp"])
        recv = float(params.get("recvWindow") or 5000)
    except ValueError:
        raise ApiError(-1100, "Illegal characters found in parameter 'timestamp'.") from None
    if recv > 60000:
        raise ApiError(-1131, "recvWindow must be less than 60000")
    now_ms = now * 1000
    if ts > now_ms + 1000:
        raise ApiError(-1021, "Timestamp for this request was 1000ms ahead of the server's time.")
    if now_ms - ts > recv:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")
    sig = None
    for part in (raw_query, raw_body):
        m = _SIGNATURE_RE.search(part)
        if m:
            sig = m.group(2)
    if not sig:
        raise ApiError(-1102, "Mandatory parameter 'signature' was not sent, was empty/null, or malformed.")
    payload = _SIGNATURE_RE.sub("", raw_query).lstrip("&") + _SIGNATURE_RE.sub("", raw_body).lstrip("&")
    if not verifier.matches(payload, unquote(sig)):
        raise ApiError(-1022, "Signature for this request is not valid.")
    params.pop("signature", None)


def run_sim(
    port: int,
    host: str = "127.0.0.1",
    api_key: str = DEFAULT_API_KEY,
    api_secret: str = DEFAULT_API_SECRET,
    *,
    engine: PaperEngine | None = None,
    tick_interval: float | None = 1.0,
    omit: frozenset[str] = frozenset(),
    ed25519_keys: dict[str, str] | None = None,
    spot: sim_spot.SpotConfig | None = None,
) -> None:
    """Serve the simulator in the foreground (blocks) on a fresh funded paper account with the default markets."""
    import uvicorn

    eng = engine or PaperEngine(DEFAULT_MARKETS(), PaperConfig())
    app = create_app(eng, api_key, api_secret, tick_interval=tick_interval, omit=omit, ed25519_keys=ed25519_keys,
                     spot=spot)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def run_from_args(args: argparse.Namespace) -> int:
    """Print the address and the credentials, then serve until interrupted."""
    if bool(args.api_key != DEFAULT_API_KEY) != bool(args.api_secret != DEFAULT_API_SECRET):
        print("plandesk exchange-sim: error: give both --api-key and --api-secret, or neither", file=sys.stderr)
        return 2
    if not 0 <= args.port <= 65535:
        print(f"plandesk exchange-sim: error: --port {args.port}: not a TCP port (0..65535)", file=sys.stderr)
        return 2
    print(f"Binance-compatible simulator on http://{args.host}:{args.port}  (markets: {', '.join(DEFAULT_MARKETS())})")
    print(f"  API key:    {args.api_key}")
    print(f"  API secret: {args.api_secret}")
    ed_keys: dict[str, str] = {}
    if args.ed25519_public_key is not None:
        try:
            pem = args.ed25519_public_key.read_text(encoding="utf-8")
            Ed25519Verifier(pem)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            where = f"--ed25519-public-key {args.ed25519_public_key}"
            print(f"plandesk exchange-sim: error: {where}: {exc}", file=sys.stderr)
            return 2
        ed_keys[args.ed25519_api_key] = pem
        print(f"  Ed25519 API key: {args.ed25519_api_key} (public key from {args.ed25519_public_key})")
    if args.spot or args.margin:
        print(f"  spot realism: free/locked balances, filters{', margin account' if args.margin else ''}")
    print(f"  WebSocket API: ws://{args.host}:{args.port}/ws-api/v3   market streams: ws://{args.host}:{args.port}"
          "/stream?streams=btcusdt@bookTicker")
    if args.omit_endpoint:
        print(f"  not served (-1000 Unknown endpoint): {', '.join(args.omit_endpoint)}")
    print(f"  connect with: --connector binance --base-url http://{args.host}:{args.port}", flush=True)
    try:
        run_sim(args.port, args.host, args.api_key, args.api_secret, tick_interval=None if args.no_ticks else 1.0,
                omit=frozenset(args.omit_endpoint or ()), ed25519_keys=ed_keys,
                spot=sim_spot.SpotConfig(margin=args.margin) if args.spot or args.margin else None)
    except KeyboardInterrupt:
        pass
    return 0


def main(argv: list[str] | None = None) -> int:
    """`plandesk exchange-sim --port N [--host H] [--api-key K --api-secret S] [--no-ticks]`."""
    parser = argparse.ArgumentParser(prog="plandesk exchange-sim", description="Binance-compatible loopback simulator")
    add_arguments(parser)
    return run_from_args(parser.parse_args(argv))
