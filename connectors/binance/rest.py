"""The signed-request core: one httpx AsyncClient (connection reuse), a bound on requests in flight, the
server-time offset, rate limiting, and the mapping of every failure onto ConnectorError."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from typing import Any
from urllib.parse import quote

import httpx

from connectors.binance.errors import INVALID_TIMESTAMP, map_error, transport_error
from connectors.binance.ratelimit import RateLimiter
from connectors.binance.signing import encode_params, make_signer
from core.connector import ConnectorError, ConnectorErrorKind

log = logging.getLogger("connectors.binance")

Params = list[tuple[str, str]]

#: Longest Retry-After the client waits out by itself before giving RATE_LIMITED to the caller.
MAX_SELF_WAIT = 30.0
_READ_RETRIES = 2
POOL_SIZE = 4
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class BinanceError(ConnectorError):
    """A ConnectorError that also carries the HTTP status and the venue's `data` (cancel-replace details)."""

    def __init__(self, base: ConnectorError, *, status: int, data: Any = None) -> None:
        super().__init__(base.kind, base.reason, code=base.code, retry_after=base.retry_after)
        self.status = status
        self.data = data


class BinanceRest:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        api_secret: str,
        *,
        max_in_flight: int,
        recv_window: int,
        timeout: float,
        transport: httpx.AsyncBaseTransport | None,
        http: str = "httpx",
    ) -> None:
        if not api_key:
            raise ValueError("the API key is empty")
        self.base_url = base_url.rstrip("/")
        self._signer = make_signer(api_secret)
        self.key_kind = self._signer.kind
        # Several small connection pools instead of one big one: httpcore's pool scans every connection on each
        # request, which costs ~1 ms per request at 64 connections; at <= 4 per pool it stays negligible.
        per_pool = min(POOL_SIZE, max(1, max_in_flight))
        n_pools = -(-max(1, max_in_flight) // per_pool) if transport is None else 1
        headers = {"X-MBX-APIKEY": api_key, "Accept": "application/json"}
        self.http = http
        self._clients: list[Any]
        if http == "aiohttp" and transport is None:  # one session: its connector does not scan the pool per request
            from connectors.binance.http_aiohttp import AiohttpClient

            self._clients = [AiohttpClient(self.base_url, timeout=timeout, headers=headers,
                                           max_connections=max(1, max_in_flight))]
        elif http in ("httpx", "httpx-aiohttp", "aiohttp"):  # aiohttp with a test transport: httpx
            if http == "httpx-aiohttp" and transport is None:  # benchmarks only: see http_aiohttp's docstring
                from httpx_aiohttp import AiohttpTransport

                transport = AiohttpTransport(limits=httpx.Limits(max_connections=max(1, max_in_flight)))
                n_pools = 1
            self._clients = [
                httpx.AsyncClient(
                    base_url=self.base_url,
                    timeout=timeout,
                    transport=transport,
                    headers=headers,
                    limits=httpx.Limits(max_connections=per_pool, max_keepalive_connections=per_pool),
                )
                for _ in range(n_pools)
            ]
        else:
            raise ValueError(f"http: {http!r} is not one of httpx, aiohttp, httpx-aiohttp")
        self._load = [0] * len(self._clients)
        self._sem = asyncio.Semaphore(max_in_flight)
        self.recv_window = recv_window
        self.time_offset = 0.0  # server clock minus local clock, seconds
        self.limiter = RateLimiter(clock=self.server_time)
        self.sent = 0
        self.last_ok: float | None = None
        self.last_error: str | None = None

    def __repr__(self) -> str:
        return f"BinanceRest({self.base_url!r})"

    def sign(self, payload: str) -> str:
        """The signature of `payload` with this client's key (HMAC hex or Ed25519 base64), for the WS API."""
        return self._signer.sign(payload)

    def server_time(self) -> float:
        return time.time() + self.time_offset

    async def sync_time(self) -> float:
        """Measure the server-time offset (midpoint of the round trip)."""
        t0 = time.time()
        data = await self.request("GET", "/api/v3/time", weight=1)
        t1 = time.time()
        self.time_offset = int(data["serverTime"]) / 1000 - (t0 + t1) / 2
        log.debug("server time offset %.3f s", self.time_offset)
        return self.time_offset

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        weight: int,
        orders: int = 0,
        signed: bool = False,
        mutating: bool = False,
    ) -> Any:
        """Send one request and return its JSON. Waits for rate limits; waits out a 429 / 418 Retry-After of at
        most MAX_SELF_WAIT (nothing was executed); resynchronises the clock once on -1021; retries reads on
        transient failures. A mutating request is never sent again after an answer that leaves its outcome open."""
        resynced = False
        rate_retries = 0
        read_retries = 0
        while True:
            try:
                return await self._once(method, path, params or [], weight, orders, signed, mutating)
            except BinanceError as exc:
                if exc.kind is ConnectorErrorKind.RATE_LIMITED and rate_retries < 3:
                    wait = exc.retry_after if exc.retry_after is not None else 1.0
                    if wait <= MAX_SELF_WAIT:
                        rate_retries += 1
                        continue  # the limiter's gate holds every request until Retry-After has passed
                if exc.code == INVALID_TIMESTAMP and signed and not resynced:
                    resynced = True
                    await self.sync_time()
                    continue
                if not mutating and exc.kind is ConnectorErrorKind.UNAVAILABLE and read_retries < _READ_RETRIES:
                    read_retries += 1
                    await asyncio.sleep(0.05 * 3 ** (read_retries - 1))
                    continue
                raise
            except ConnectorError as exc:  # transport failures; a request that never left may always go again
                retryable = not mutating or exc.kind is ConnectorErrorKind.UNAVAILABLE
                if retryable and read_retries < _READ_RETRIES:
                    read_retries += 1
                    await asyncio.sleep(0.05 * 3 ** (read_retries - 1))
                    continue
                raise

    async def _once(
        self, method: str, path: str, params: Params, weight: int, orders: int, signed: bool, mutating: bool
    ) -> Any:
        sent_at = await self.limiter.acquire(weight, orders)
        query = ""
        body: str | None = None
        if signed:
            full = [*params, ("recvWindow", str(self.recv_window)), ("timestamp", str(int(self.server_time() * 1000)))]
            payload = encode_params(full)
            signed_payload = f"{payload}&signature={quote(self._signer.sign(payload), safe='')}"
        else:
            signed_payload = encode_params(params)
        if method in ("POST", "PUT") and signed:
            body = signed_payload
        else:
            query = signed_payload
        url = f"{path}?{query}" if query else path
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else None
        async with self._sem:
            self.sent += 1
            started = time.perf_counter()
            pick = self._load.index(min(self._load))  # the least busy pool
            self._load[pick] += 1
            try:
                resp = await self._clients[pick].request(method, url, content=body, headers=headers)
            except _NOT_SENT as exc:
                self.last_error = type(exc).__name__
                log.debug("%s %s not sent: %s", method, path, type(exc).__name__)
                raise transport_error(exc, sent=False, mutating=mutating) from None
            except httpx.TransportError as exc:
                self.last_error = type(exc).__name__
                log.debug("%s %s lost: %s", method, path, type(exc).__name__)
                raise transport_error(exc, sent=True, mutating=mutating) from None
            finally:
                self._load[pick] -= 1
        elapsed = (time.perf_counter() - started) * 1000
        self.limiter.observe(resp.headers, sent_at)
        log.debug(
            "%s %s -> %s in %.1f ms %s",
            method,
            path,
            resp.status_code,
            elapsed,
            _describe(params, resp.headers),
        )
        data = _json(resp)
        if resp.status_code < 400:
            self.last_ok = time.time()
            self.last_error = None
            return data
        code = data.get("code") if isinstance(data, dict) else None
        msg = str(data.get("msg", "")) if isinstance(data, dict) else ""
        retry_after = _retry_after(resp)
        if resp.status_code in (418, 429):
            self.limiter.close_gate(retry_after if retry_after is not None else 1.0)
        base = map_error(
            resp.status_code,
            int(code) if isinstance(code, int) else None,
            msg,
            mutating=mutating,
            retry_after=retry_after,
        )
        self.last_error = f"{resp.status_code} {code}"
        raise BinanceError(base, status=resp.status_code, data=data.get("data") if isinstance(data, dict) else None)

    def usage(self) -> dict[str, str]:
        return self.limiter.usage()


def _json(resp: httpx.Response) -> Any:
    try:
        return resp.json()
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
        return {}


def _retry_after(resp: httpx.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        return None


_LOGGED_PARAMS = ("symbol", "side", "type", "newClientOrderId", "origClientOrderId", "cancelOrigClientOrderId")


def _describe(params: Params, headers: httpx.Headers) -> str:
    """A log fragment with the order-identifying parameters and the limit headers (never the signature)."""
    parts = [f"{k}={v}" for k, v in params if k in _LOGGED_PARAMS]
    parts += [f"{k}={v}" for k, v in headers.items() if k.lower().startswith("x-mbx-")]
    return " ".join(parts)
