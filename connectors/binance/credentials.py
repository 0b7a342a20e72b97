"""API credentials from the environment or a key file of mode 0600. Values never appear in messages."""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

ENV_KEY = "PLANDESK_BINANCE_API_KEY"
ENV_SECRET = "PLANDESK_BINANCE_API_SECRET"

_KEY_NAMES = {ENV_KEY.lower(), "api_key", "apikey", "key"}
_SECRET_NAMES = {ENV_SECRET.lower(), "api_secret", "apisecret", "secret", "secret_key"}


class CredentialsError(ValueError):
    """Credentials are missing, unreadable, or the key file is too open. The message never holds a secret."""


def load_credentials(key_file: Path | None = None) -> tuple[str, str]:
    """Return (api_key, api_secret).

    With `key_file`: read it (it must be a regular file with mode 0600 or stricter: no group/other bits). The file
    holds either `NAME=VALUE` lines (names PLANDESK_BINANCE_API_KEY / PLANDESK_BINANCE_API_SECRET, or api_key /
    api_secret) or two bare lines: the key, then the secret. Blank lines and lines starting with '#' are ignored.
    A file holding a PEM private key block (`-----BEGIN PRIVATE KEY-----`, Ed25519) is an Ed25519 key: the block
    is the secret (the signer is chosen by that content) and the file's other line is the API key.
    Without `key_file`: the environment variables PLANDESK_BINANCE_API_KEY and PLANDESK_BINANCE_API_SECRET."""
    if key_file is not None:
        return _from_file(Path(key_file))
    key = os.environ.get(ENV_KEY, "").strip()
    secret = os.environ.get(ENV_SECRET, "").strip()
    missing = [n for n, v in ((ENV_KEY, key), (ENV_SECRET, secret)) if not v]
    if missing:
        raise CredentialsError(
            f"Binance credentials missing: set {' and '.join(missing)} or pass a key file (mode 0600)"
        )
    return key, secret


_PEM_RE = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.S)


def _ed25519_file(path: Path, rest: str, pem: str) -> tuple[str, str]:
    if "PRIVATE KEY" not in pem.split("-----")[1]:
        raise CredentialsError(f"key file {path}: the PEM block is not a private key (the file holds the API key and "
                               "the Ed25519 private key; the venue holds the public key)")
    key = ""
    for ln in (x.strip() for x in rest.splitlines()):
        if not ln or ln.startswith("#"):
            continue
        name, sep, value = ln.partition("=")
        if sep and name.strip().lower().removeprefix("export ").strip() in _KEY_NAMES:
            key = value.strip().strip("'\"")
        elif not sep and not key:
            key = ln
    if not key:
        raise CredentialsError(f"key file {path}: an Ed25519 private key but no API key ({ENV_KEY}=… line)")
    from connectors.binance.signing_ed25519 import Ed25519Signer

    try:
        Ed25519Signer(pem)
    except ValueError as exc:
        raise CredentialsError(f"key file {path}: {exc}") from None
    return key, pem


def _from_file(path: Path) -> tuple[str, str]:
    try:
        st = path.stat()
    except OSError as exc:
        raise CredentialsError(f"cannot read key file {path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise CredentialsError(f"key file {path} is not a regular file")
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        raise CredentialsError(
            f"key file {path} has mode {mode:04o}; refusing to use it because others can read it. Run: chmod 600 {path}"
        )
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CredentialsError(f"cannot read key file {path}: {type(exc).__name__}") from None
    pem = _PEM_RE.search(text)
    if pem is not None:  # an Ed25519 key: the API key, and the private key PEM (the kind follows the content)
        return _ed25519_file(path, text[: pem.start()] + text[pem.end():], pem.group(0))
    lines = [ln.strip() for ln in text.splitlines() if ln.strip() and not ln.strip().startswith("#")]
    key = secret = ""
    bare: list[str] = []
    for ln in lines:
        name, sep, value = ln.partition("=")
        if sep:
            n = name.strip().lower().removeprefix("export ").strip()
            v = value.strip().strip("'\"")
            if n in _KEY_NAMES:
                key = v
            elif n in _SECRET_NAMES:
                secret = v
            # other NAME=VALUE lines are ignored
        else:
            bare.append(ln)
    if not key and not secret and len(bare) == 2:
        key, secret = bare
    if not key or not secret:
        raise CredentialsError(
            f"key file {path} must hold {ENV_KEY}=… and {ENV_SECRET}=… lines (or the key and the secret on two lines)"
        )
    return key, secret
