"""Request signing of the Binance Spot REST dialect: HMAC-SHA256 here, Ed25519 in signing_ed25519 (make_signer
picks by the credential's content).

The signed payload ("totalParams") is the query string concatenated with the request body, exactly as sent. The
secret lives only inside `Signer` and never shows in its repr, str or in any exception text."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from typing import Protocol
from urllib.parse import quote


def sign(secret: str | bytes, payload: str) -> str:
    """Hex HMAC-SHA256 of payload with secret (the `signature` parameter)."""
    key = secret.encode() if isinstance(secret, str) else secret
    return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()


def encode_params(params: Mapping[str, object] | Iterable[tuple[str, object]]) -> str:
    """`k=v&k=v` in the given order, values percent-encoded (ASCII-safe characters kept as they are)."""
    items = params.items() if isinstance(params, Mapping) else params
    return "&".join(f"{k}={quote(str(v), safe='-_.~:/')}" for k, v in items)


class Signer:
    """Holds the API secret and signs payloads. Its repr never shows the secret."""

    __slots__ = ("__secret",)
    kind = "hmac"

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("the API secret is empty")
        self.__secret = secret.encode()

    def sign(self, payload: str) -> str:
        return sign(self.__secret, payload)

    def matches(self, payload: str, signature: str) -> bool:
        """Constant-time check of a signature (the simulator's side)."""
        return hmac.compare_digest(self.sign(payload), signature.lower())

    def __repr__(self) -> str:
        return "Signer(secret=***)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:  # never pickle the secret by accident
        raise TypeError("Signer cannot be pickled")


class RequestSigner(Protocol):
    kind: str

    def sign(self, payload: str) -> str: ...


def make_signer(secret: str) -> RequestSigner:
    """The signer for a credential, chosen by its content: a PEM private key -> Ed25519, anything else -> the
    HMAC-SHA256 secret."""
    from connectors.binance.signing_ed25519 import Ed25519Signer, is_pem

    if is_pem(secret):
        return Ed25519Signer(secret)
    return Signer(secret)


def mask(value: str) -> str:
    """A printable hint of a credential: first four characters and the length."""
    if len(value) <= 8:
        return "***"
    return f"{value[:4]}…({len(value)} chars)"
