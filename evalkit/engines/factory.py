"""`build_engine`: an EngineSpec -> the engine it names.

Each engine is imported inside its branch, so `evalkit --help` and a run on one engine never import the others'
heavy packages (vllm, torch, transformers). The factory lives apart from `base`, which every engine imports for
the tokenizer, so that no engine module imports one that imports it back.
"""

from __future__ import annotations

from evalkit.config import EngineSpec
from evalkit.engines.base import Engine
from evalkit.errors import EvalkitError


def build_engine(spec: EngineSpec) -> Engine:
    if spec.kind == "vllm":
        from evalkit.engines.vllm import VLLMEngine

        return VLLMEngine(spec)
    if spec.kind == "openai":
        from evalkit.engines.openai import OpenAIEngine

        return OpenAIEngine(spec)
    if spec.kind == "hf":
        from evalkit.engines.hf import HFEngine

        return HFEngine(spec)
    raise EvalkitError(f"unknown engine {spec.kind!r}: use --engine vllm, openai (with --endpoint URL) or hf")
