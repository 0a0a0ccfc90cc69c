"""Load a model's tokenizer locally with transformers, for engines that do not carry one (openai, hf).

The EOS set is the tokenizer's EOS plus the model config's `eos_token_id` (one id or a list) and the generation
config's, the same ids the server or `model.generate` would stop on.
"""

from __future__ import annotations

from typing import Any

from evalkit.engines.base import ChatTokenizer
from evalkit.engines.models import resolve_model
from evalkit.errors import EvalkitError


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _ids(value: Any) -> list[int]:
    if value is None:
        return []
    return [int(v) for v in (value if isinstance(value, (list, tuple)) else [value])]


def config_eos_ids(path: str) -> list[int]:
    """EOS ids the model config and generation config declare; [] when neither can be read."""
    out: list[int] = []
    try:
        from transformers import AutoConfig

        out += _ids(getattr(AutoConfig.from_pretrained(path), "eos_token_id", None))
    except Exception:
        pass
    try:
        from transformers import GenerationConfig

        out += _ids(GenerationConfig.from_pretrained(path).eos_token_id)
    except Exception:
        pass
    return out


def load_chat_tokenizer(source: str, log=print) -> tuple[ChatTokenizer, str]:
    """(tokenizer, resolved path) for a hub id, a local directory, or smollm2-demo."""
    try:
        from transformers import AutoTokenizer
    except ImportError:
        raise EvalkitError("loading a tokenizer needs transformers: pip install 'evalkit[hf]'") from None
    path = resolve_model(source, log)
    try:
        hf_tok = AutoTokenizer.from_pretrained(path)
    except Exception as e:
        raise EvalkitError(
            f"could not load a tokenizer from {source!r} ({_first_line(e)}): pass --tokenizer with a local "
            "directory or hub id that holds the served model's tokenizer"
        ) from None
    return ChatTokenizer(hf_tok, config_eos_ids(path)), path
