"""Binance error responses mapped onto the port's ConnectorError kinds, keeping the venue's code and words."""

from __future__ import annotations

from core.connector import ConnectorError, ConnectorErrorKind

TIMEOUT = -1007  # "Timeout waiting for response from backend server. Send status unknown; execution status unknown."
INVALID_TIMESTAMP = -1021
INVALID_SIGNATURE = -1022
TOO_MANY_REQUESTS = -1003
TOO_MANY_ORDERS = -1015
NEW_ORDER_REJECTED = -2010
CANCEL_REJECTED = -2011
NO_SUCH_ORDER = -2013
BAD_API_KEY_FMT = -2014
REJECTED_MBX_KEY = -2015
CANCEL_REPLACE_PARTIAL = -2021  # the cancel succeeded and the new order failed (STOP_ON_FAILURE)
CANCEL_REPLACE_FAILED = -2022  # the cancel failed; with STOP_ON_FAILURE the new order was not attempted

#: Codes that say the venue may have executed the request although it answered with an error.
_UNKNOWN_CODES = frozenset({-1000, -1001, -1006, TIMEOUT})
#: Codes that say the request was not executed and can be sent again later.
_UNAVAILABLE_CODES = frozenset({-1008, -1016, INVALID_TIMESTAMP})
_AUTH_CODES = frozenset({INVALID_SIGNATURE, BAD_API_KEY_FMT, REJECTED_MBX_KEY, -2008, -1002})

_HINTS = {
    INVALID_SIGNATURE: "check the API secret",
    BAD_API_KEY_FMT: "check the API key",
    REJECTED_MBX_KEY: "check the API key, its permissions and IP whitelist",
    INVALID_TIMESTAMP: "the local clock is out of step with the venue even after resynchronising",
}


def is_unknown_order(code: int | None, msg: str) -> bool:
    """-2013 "Order does not exist." or -2011 "Unknown order sent."."""
    return code == NO_SUCH_ORDER or (code == CANCEL_REJECTED and "unknown order" in msg.lower())


def map_error(
    status: int,
    code: int | None,
    msg: str,
    *,
    mutating: bool,
    retry_after: float | None = None,
) -> ConnectorError:
    """Turn an HTTP status plus Binance `{"code", "msg"}` into a ConnectorError.

    `mutating` is True for requests that change state (new order, cancel-replace, cancel): for those an answer
    that leaves the execution status open is UNKNOWN_OUTCOME; for reads it is UNAVAILABLE (safe to ask again)."""
    text = msg or f"HTTP {status}"
    if code in _HINTS:
        text = f"{text} ({_HINTS[code]})"
    if status in (418, 429) or code in (TOO_MANY_REQUESTS, TOO_MANY_ORDERS):
        banned = " (IP banned for ignoring a 429)" if status == 418 else ""
        return ConnectorError(ConnectorErrorKind.RATE_LIMITED, text + banned, code=code, retry_after=retry_after)
    if status in (404, 405) or (code == -1000 and "unknown endpoint" in msg.lower()):
        # no such endpoint here: nothing was executed, and asking again will not help
        return ConnectorError(ConnectorErrorKind.REJECTED, f"{text} (the venue does not offer it)", code=code)
    if code in _UNKNOWN_CODES or status >= 500:
        kind = ConnectorErrorKind.UNKNOWN_OUTCOME if mutating else ConnectorErrorKind.UNAVAILABLE
        if mutating:
            text = f"{text} (execution status unknown)"
        return ConnectorError(kind, text, code=code)
    if code in _UNAVAILABLE_CODES or status == 403:
        return ConnectorError(ConnectorErrorKind.UNAVAILABLE, text, code=code, retry_after=retry_after)
    if is_unknown_order(code, msg):
        return ConnectorError(ConnectorErrorKind.NOT_FOUND, text, code=code)
    return ConnectorError(ConnectorErrorKind.REJECTED, text, code=code)


def transport_error(exc: BaseException, *, sent: bool, mutating: bool) -> ConnectorError:
    """A failure below HTTP. `sent` False means the request provably never left (connect failed)."""
    what = type(exc).__name__
    if not sent:
        return ConnectorError(ConnectorErrorKind.UNAVAILABLE, f"cannot reach the venue ({what})")
    if mutating:
        return ConnectorError(
            ConnectorErrorKind.UNKNOWN_OUTCOME, f"no answer from the venue ({what}); execution status unknown"
        )
    return ConnectorError(ConnectorErrorKind.UNAVAILABLE, f"no answer from the venue ({what})")
