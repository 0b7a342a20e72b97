"""An aiohttp client with the small part of httpx.AsyncClient's surface BinanceRest uses (`request`, `aclose`,
responses with `status_code`, `headers`, `json()`), so the REST core can run on either library.

Failures are classified for the never-send-twice rule the way BinanceRest expects of httpx: only a connection that
could not be made (ClientConnectorError, a connect timeout) is "not sent" (httpx.ConnectError / ConnectTimeout);
everything after the request may have left (server disconnected, payload error, read timeout) is "sent, outcome
unknown" (httpx.ReadError / ReadTimeout). (httpx-aiohttp's transport maps every ClientConnectionError, a server
disconnect included, to ConnectTimeout, which would make a lost answer look unsent: not used for that reason.)"""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import httpx


class AiohttpResponse:
    __slots__ = ("status_code", "headers", "content")

    def __init__(self, status: int, headers: Any, content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content

    def json(self) -> Any:
        return json.loads(self.content)


class AiohttpClient:
    def __init__(self, base_url: str, *, timeout: float, headers: dict[str, str], max_connections: int) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=timeout, connect=min(timeout, 5.0))
        self._headers = headers
        self._limit = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=self._limit, limit_per_host=self._limit, ttl_dns_cache=300)
            self._session = aiohttp.ClientSession(connector=connector, headers=self._headers, timeout=self._timeout,
                                                  auto_decompress=True)
        return self._session

    async def request(self, method: str, url: str, *, content: str | None = None,
                      headers: dict[str, str] | None = None) -> AiohttpResponse:
        session = self._get_session()
        try:
            async with session.request(method, self.base_url + url, data=content, headers=headers) as resp:
                body = await resp.read()
                return AiohttpResponse(resp.status, resp.headers, body)
        except aiohttp.ConnectionTimeoutError as exc:
            raise httpx.ConnectTimeout(str(exc)) from exc
        except aiohttp.ClientConnectorError as exc:
            raise httpx.ConnectError(str(exc)) from exc
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc)) from exc
        except aiohttp.ClientError as exc:
            raise httpx.ReadError(f"{type(exc).__name__}: {exc}") from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
