"""The in-process paper exchange: a deterministic matching engine and the default IExecutionConnector over it."""

from connectors.paper.connector import PaperConnector
from connectors.paper.engine import PaperEngine
from connectors.paper.faults import FaultInjector
from connectors.paper.markets import DEFAULT_MARKETS
from connectors.paper.orders import QUOTE_ASSET, PaperConfig, PaperNotFound, PaperOrder, PaperReject, Trade
from connectors.paper.state import load_engine, save_engine
from connectors.paper.store import PaperStateError, PaperStore

__all__ = [
    "DEFAULT_MARKETS",
    "QUOTE_ASSET",
    "FaultInjector",
    "PaperConfig",
    "PaperConnector",
    "PaperEngine",
    "PaperNotFound",
    "PaperOrder",
    "PaperReject",
    "PaperStateError",
    "PaperStore",
    "Trade",
    "load_engine",
    "save_engine",
]
