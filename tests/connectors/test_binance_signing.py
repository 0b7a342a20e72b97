"""Signing against Binance's documented example (HMAC computed independently here), credentials loading."""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
from pathlib import Path

import pytest

from connectors.binance.credentials import ENV_KEY, ENV_SECRET, CredentialsError, load_credentials
from connectors.binance.signing import Signer, encode_params, sign

DOC_KEY = "vmPUZE6mv9SD5VNHk4HlWFsOr6aKE2zvsw0MuIgwCIPy6utIco14y7Ju91duEh8A"
DOC_SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"
DOC_QUERY = (
    "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
)
DOC_SIGNATURE = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"


def test_documented_vector() -> None:
    independent = hmac.new(DOC_SECRET.encode(), DOC_QUERY.encode(), hashlib.sha256).hexdigest()
    assert independent == DOC_SIGNATURE
    assert sign(DOC_SECRET, DOC_QUERY) == DOC_SIGNATURE
    assert Signer(DOC_SECRET).sign(DOC_QUERY) == DOC_SIGNATURE


def test_query_built_like_the_documented_one() -> None:
    params = [
        ("symbol", "LTCBTC"),
        ("side", "BUY"),
        ("type", "LIMIT"),
        ("timeInForce", "GTC"),
        ("quantity", "1"),
        ("price", "0.1"),
        ("recvWindow", "5000"),
        ("timestamp", "1499827319559"),
    ]
    assert encode_params(params) == DOC_QUERY
    # query + body concatenated ("totalParams"): the documentation's mixed example
    query = "symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC"
    body = "quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    expected = hmac.new(DOC_SECRET.encode(), (query + body).encode(), hashlib.sha256).hexdigest()
    assert expected == "0fd168b8ddb4876a0358a8d14d0c9f3da0e9b20c5d52b2a00fcf7d1c602f9a77"
    assert Signer(DOC_SECRET).sign(query + body) == expected
    assert encode_params([("symbols", '["BTCUSDT","ETHUSDT"]')]) == "symbols=%5B%22BTCUSDT%22%2C%22ETHUSDT%22%5D"


def test_signer_never_shows_the_secret() -> None:
    s = Signer(DOC_SECRET)
    assert DOC_SECRET not in repr(s) and DOC_SECRET not in str(s) and DOC_SECRET not in f"{s!r} {vars_or_none(s)}"
    with pytest.raises(TypeError):
        pickle.dumps(s)
    assert s.matches(DOC_QUERY, DOC_SIGNATURE.upper())
    assert not s.matches(DOC_QUERY, "0" * 64)


def vars_or_none(obj: object) -> str:
    return str(getattr(obj, "__dict__", None))


def test_credentials_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_KEY, DOC_KEY)
    monkeypatch.setenv(ENV_SECRET, DOC_SECRET)
    assert load_credentials(None) == (DOC_KEY, DOC_SECRET)
    monkeypatch.delenv(ENV_SECRET)
    with pytest.raises(CredentialsError, match=ENV_SECRET) as info:
        load_credentials(None)
    assert DOC_KEY not in str(info.value)


def test_key_file_must_be_private(tmp_path: Path) -> None:
    path = tmp_path / "binance.key"
    path.write_text(f"# plandesk\n{ENV_KEY}={DOC_KEY}\n{ENV_SECRET}={DOC_SECRET}\n")
    os.chmod(path, 0o644)
    with pytest.raises(CredentialsError) as info:
        load_credentials(path)
    text = str(info.value)
    assert "0644" in text and "chmod 600" in text
    assert DOC_SECRET not in text and DOC_KEY not in text
    os.chmod(path, 0o600)
    assert load_credentials(path) == (DOC_KEY, DOC_SECRET)


def test_key_file_two_bare_lines_and_bad_files(tmp_path: Path) -> None:
    path = tmp_path / "k"
    path.write_text(f"{DOC_KEY}\n{DOC_SECRET}\n")
    path.chmod(0o400)
    assert load_credentials(path) == (DOC_KEY, DOC_SECRET)
    bad = tmp_path / "bad"
    bad.write_text(f"{DOC_SECRET}\n")
    bad.chmod(0o600)
    with pytest.raises(CredentialsError) as info:
        load_credentials(bad)
    assert DOC_SECRET not in str(info.value)
    with pytest.raises(CredentialsError, match="cannot read"):
        load_credentials(tmp_path / "missing")
