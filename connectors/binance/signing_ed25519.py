"""Ed25519 request signing (Binance's recommended key kind; HMAC keys are deprecated there).

The signature is the standard base64 of the Ed25519 signature of the same payload HMAC signs (query string plus
body, as sent); it is percent-encoded in the request like any value. The private key is a PKCS#8 PEM
("-----BEGIN PRIVATE KEY-----"); it lives only inside `Ed25519Signer` and never shows in its repr or messages."""

from __future__ import annotations

import base64
import binascii

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

PEM_PRIVATE = "-----BEGIN PRIVATE KEY-----"
PEM_PUBLIC = "-----BEGIN PUBLIC KEY-----"


def is_pem(text: str) -> bool:
    return text.lstrip().startswith("-----BEGIN ")


class Ed25519Signer:
    """Signs with an Ed25519 private key given as PEM text. Refuses other key kinds (RSA is not supported)."""

    __slots__ = ("__key",)
    kind = "ed25519"

    def __init__(self, pem: str) -> None:
        try:
            key = load_pem_private_key(pem.strip().encode(), password=None)
        except (ValueError, TypeError) as exc:
            what = "encrypted (give it unencrypted)" if "password" in str(exc).lower() else "not a readable PEM key"
            raise ValueError(f"the private key is {what}") from None
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"the private key is {type(key).__name__.removeprefix('_')}, not Ed25519 (only Ed25519 "
                             "and HMAC keys are supported)")
        self.__key = key

    def sign(self, payload: str) -> str:
        return base64.b64encode(self.__key.sign(payload.encode())).decode()

    def public_pem(self) -> str:
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        return self.__key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()

    def __repr__(self) -> str:
        return "Ed25519Signer(private key=***)"

    __str__ = __repr__

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("Ed25519Signer cannot be pickled")


class Ed25519Verifier:
    """The simulator's side: checks signatures against an Ed25519 public key (PEM)."""

    kind = "ed25519"

    def __init__(self, public_pem: str) -> None:
        key = load_pem_public_key(public_pem.strip().encode())
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError("the public key is not an Ed25519 key")
        self._key = key

    def matches(self, payload: str, signature: str) -> bool:
        try:
            raw = base64.b64decode(signature, validate=True)
            self._key.verify(raw, payload.encode())
        except (InvalidSignature, binascii.Error, ValueError):
            return False
        return True


def generate_private_pem() -> str:
    """A new Ed25519 private key as PKCS#8 PEM (for the simulator's demo key and tests)."""
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    key = Ed25519PrivateKey.generate()
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
