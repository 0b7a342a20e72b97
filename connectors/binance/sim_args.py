"""The options of `plandesk exchange-sim`, light to import (the CLI's parser is built before any command runs)."""

from __future__ import annotations

import argparse
from pathlib import Path

#: The loopback simulator's public default credentials (never use them anywhere else).
DEFAULT_API_KEY = "plandesk-sim-key-0000000000000000000000000000000000000000000000000000"
DEFAULT_API_SECRET = "plandesk-sim-secret-000000000000000000000000000000000000000000000000"
DEFAULT_ED25519_API_KEY = "plandesk-sim-ed25519-key-00000000000000000000000000000000000000000000"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `plandesk exchange-sim` (shared by tui.cli's subcommand and connectors.binance.sim.main)."""
    parser.add_argument("--port", type=int, required=True, help="TCP port on --host (0: any free port)")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: loopback only)")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY, help="the one API key accepted")
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET, help="its HMAC secret")
    parser.add_argument("--no-ticks", action="store_true", help="keep prices still (no random walk)")
    parser.add_argument("--ed25519-public-key", type=Path, default=None, metavar="PEM_FILE",
                        help="also accept an Ed25519 API key: its public key (PEM); the client's key file holds the "
                             "private key")
    parser.add_argument("--ed25519-api-key", default=DEFAULT_ED25519_API_KEY,
                        help="the API key name of that Ed25519 key")
    parser.add_argument("--spot", action="store_true",
                        help="spot realism: free/locked balances (-2010), no short selling, PERCENT_PRICE_BY_SIDE, "
                             "MAX_NUM_ORDERS, MAX_NUM_ALGO_ORDERS")
    parser.add_argument("--margin", action="store_true", help="with --spot: a margin account (selling short allowed)")
    parser.add_argument("--omit-endpoint", action="append", metavar="PATH", type=_api_path,
                        help="do not serve this path, like a Binance-dialect venue with fewer endpoints "
                             "(e.g. /api/v3/ticker/price; repeatable)")


def _api_path(value: str) -> str:
    if not value.startswith("/api/"):
        raise argparse.ArgumentTypeError(f"{value!r}: an API path such as /api/v3/ticker/price")
    return value
