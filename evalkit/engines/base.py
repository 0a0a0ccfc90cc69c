"""The Engine protocol and the tokenizer facade every engine exposes.

Engines work at the token level: a cut at a thinking budget continues from exactly the tokens the model wrote,
with no re-tokenisation drift. `</think>` and EOS are looked up by text in the tokenizer, never hard-coded.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, GenResult

THINK_OPEN = "<think>"
THINK_CLOSE = "</think>"


class ChatTokenizer:
    """Wraps a Hugging Face tokenizer: plain encode/decode, chat prompts that open thinking, tag encodings."""

    def __init__(self, hf_tokenizer: Any, extra_eos_ids: Sequence[int] = ()) -> None:
        self.hf = hf_tokenizer
        eos = {i for i in extra_eos_ids if i is not None}
        if getattr(hf_tokenizer, "eos_token_id", None) is not None:
            eos.add(int(hf_tokenizer.eos_token_id))
        if not eos:
            raise EvalkitError("the model's tokenizer defines no EOS token: pass a model whose tokenizer sets eos_token")
        self.eos_ids: frozenset[int] = frozenset(eos)
        self.close_ids: tuple[int, ...] = tuple(self.encode(THINK_CLOSE))
        # A single-token `</think>` can be a stop id; otherwise engines stop on the string.
        self.close_is_single_token = len(self.close_ids) == 1

    def encode(self, text: str) -> list[int]:
        return list(self.hf.encode(text, add_special_tokens=False))

    def decode(self, ids: Sequence[int]) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=False)

    def fingerprint(self) -> dict[str, Any]:
        """What makes two tokenizers interchangeable: vocabulary size and a few probe encodings."""
        probe = "Let's think step by step. </think> \\boxed{42} def f(x):\n    return x**2"
        return {"vocab_size": len(self.hf), "probe": self.encode(probe), "eos": sorted(self.eos_ids)}

    def chat_text(self, user_message: str, system: str | None = None, open_thinking: bool = True) -> str:
        messages = ([{"role": "system", "content": system}] if system else []) + [
            {"role": "user", "content": user_message}
        ]
        if getattr(self.hf, "chat_template", None):
            text = self.hf.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        else:
            text = (f"{system}\n\n" if system else "") + user_message + "\n"
        # Open thinking only if the template has not already (DeepSeek-R1-Distill's template ends in "<think>\n").
        if open_thinking and not text.rstrip().endswith(THINK_OPEN):
            text += THINK_OPEN + "\n"
        return text

    def chat_prompt_ids(self, user_message: str, system: str | None = None, open_thinking: bool = True) -> list[int]:
        return self.encode(self.chat_text(user_message, system, open_thinking))


@runtime_checkable
class Engine(Protocol):
    """Anything that turns token-id requests into token-id results. evalkit's engines stream
    (`engines.streaming.StreamingEngine`: each request on its own, `agenerate` for the controllers); an object with
    only a batch `generate` is streamed through `engines.streaming.streaming()`."""

    name: str
    tokenizer: ChatTokenizer
    max_model_len: int

    def generate(self, requests: list[GenRequest]) -> list[GenResult]: ...

    async def agenerate(self, requests: Sequence[GenRequest]) -> list[GenResult]: ...

    def close(self) -> None: ...

    def identity(self) -> dict[str, Any]: ...

