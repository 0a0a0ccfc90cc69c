"""Engines: token ids in, token ids out. `build_engine` picks one from an EngineSpec."""

from evalkit.engines.base import ChatTokenizer, Engine
from evalkit.engines.factory import build_engine

__all__ = ["ChatTokenizer", "Engine", "build_engine"]
