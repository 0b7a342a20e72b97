"""Ed25519 API keys: the signer against RFC 8032's test vectors (computed by others, not by us), the key file
(PEM private key, mode 0600, kind chosen by content), and the simulator accepting both key kinds over loopback."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from connectors.binance.connector import BinanceConnector
from connectors.binance.credentials import CredentialsError, load_credentials
from connectors.binance.signing import Signer, make_signer
from connectors.binance.signing_ed25519 import Ed25519Signer, Ed25519Verifier
from connectors.binance.sim_server import start_sim_in_thread
from connectors.paper import DEFAULT_MARKETS, PaperEngine
from core.connector import ConnectorError, OrderRequest
from core.models import OrderType, Side
from tests.connectors.binance_factory import KEY, SECRET

# RFC 8032 section 7.1, TEST 1 (empty message) and TEST 2 (one byte 0x72)
RFC = [
    ("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "",
     "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
     "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"),
    ("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb", "r",
     "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
     "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"),
]
ED_KEY = "plandesk-test-ed25519-key"


def pem_of(raw_hex: str) -> str:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(raw_hex))
    return key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()


@pytest.mark.parametrize(("secret", "message", "public", "signature"), RFC)
def test_rfc8032_vectors(secret: str, message: str, public: str, signature: str) -> None:
    signer = make_signer(pem_of(secret))
    assert isinstance(signer, Ed25519Signer) and signer.kind == "ed25519"
    assert base64.b64decode(signer.sign(message)).hex() == signature
    pub = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(secret)).public_key()
    assert pub.public_bytes(Encoding.Raw, PublicFormat.Raw).hex() == public
    assert Ed25519Verifier(signer.public_pem()).matches(message, signer.sign(message))
    assert not Ed25519Verifier(signer.public_pem()).matches(message + "x", signer.sign(message))


def test_kind_follows_the_content_and_secrets_never_show() -> None:
    assert isinstance(make_signer(SECRET), Signer)
    s = make_signer(pem_of(RFC[0][0]))
    assert "9d61" not in repr(s) and "PRIVATE" not in str(s)
    from cryptography.hazmat.primitives.asymmetric import ec

    ec_pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption())
    with pytest.raises(ValueError, match="not Ed25519"):
        make_signer(ec_pem.decode())
    with pytest.raises(ValueError, match="not a readable PEM"):
        make_signer("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


def _key_file(tmp_path: Path, text: str, mode: int = 0o600) -> Path:
    p = tmp_path / "binance.key"
    p.write_text(text)
    p.chmod(mode)
    return p


def test_key_file_with_a_pem_private_key(tmp_path: Path) -> None:
    pem = pem_of(RFC[1][0])
    key, secret = load_credentials(_key_file(tmp_path, f"PLANDESK_BINANCE_API_KEY={ED_KEY}\n{pem}"))
    assert key == ED_KEY and secret.strip() == pem.strip()
    key, _ = load_credentials(_key_file(tmp_path, f"{ED_KEY}\n{pem}"))
    assert key == ED_KEY
    with pytest.raises(CredentialsError, match="mode 0644"):
        load_credentials(_key_file(tmp_path, f"{ED_KEY}\n{pem}", 0o644))
    with pytest.raises(CredentialsError, match="no API key"):
        load_credentials(_key_file(tmp_path, pem))
    pub = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(CredentialsError, match="not a private key"):
        load_credentials(_key_file(tmp_path, f"{ED_KEY}\n{pub.decode()}"))


def buy(coid: str) -> OrderRequest:
    return OrderRequest(symbol="ETHUSDT", side=Side.BUY, order_type=OrderType.LIMIT, quantity=Decimal("0.5"),
                        price=Decimal("3000"), client_order_id=coid)


async def test_the_simulator_accepts_both_kinds(tmp_path: Path) -> None:
    private = Ed25519PrivateKey.generate()
    pem = private.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
    public = private.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    markets = DEFAULT_MARKETS()
    server = start_sim_in_thread(PaperEngine(markets), KEY, SECRET, ed25519_keys={ED_KEY: public})
    key, secret = load_credentials(_key_file(tmp_path, f"{ED_KEY}\n{pem}"))
    try:
        for k, s, coid in ((key, secret, "ed-1"), (KEY, SECRET, "hmac-1")):
            conn = BinanceConnector(server.base_url, k, s, timeout=2.0, symbols=sorted(markets))
            try:
                await conn.start()
                order = await conn.place_order(buy(coid))
                assert order.client_order_id == coid
                assert (await conn.get_order("ETHUSDT", coid)) is not None
            finally:
                await conn.close()
        assert server.accepted("ed-1") == 1 and server.accepted("hmac-1") == 1
        # a wrong Ed25519 key under that API key is refused with -1022 and nothing is placed
        other = Ed25519PrivateKey.generate().private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()).decode()
        conn = BinanceConnector(server.base_url, ED_KEY, other, timeout=2.0, symbols=sorted(markets))
        try:
            await conn.start()
            with pytest.raises(ConnectorError) as err:
                await conn.place_order(buy("ed-bad"))
            assert err.value.code == -1022
            assert server.accepted("ed-bad") == 0
        finally:
            await conn.close()
    finally:
        server.stop(wait=False)
