"""Binance Spot REST v3: the httpx connector (the port) and a Binance-compatible loopback simulator.

The simulator (Starlette + uvicorn) lives in `connectors.binance.sim` / `connectors.binance.sim_server` and is not
imported here, so using the connector needs neither."""

from connectors.binance.connector import BinanceConnector
from connectors.binance.credentials import CredentialsError, load_credentials

__all__ = ["BinanceConnector", "CredentialsError", "load_credentials"]
