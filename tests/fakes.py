"""A deterministic character-level fake engine for unit tests of control logic (never the only proof).

Each character is one token (id = code point); id 0 is EOS. The "model" is a function from the full prompt
text to the text it would write next; the fake applies max_tokens, stop strings/ids and EOS like a real engine.
"""

from __future__ import annotations

from typing import Callable

from evalkit.engines.base import ChatTokenizer
from evalkit.types import GenRequest, GenResult

EOS = 0


class CharTokenizer:
    eos_token_id = EOS
    chat_template = "fake"

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return [ord(c) for c in text]

    def decode(self, ids, skip_special_tokens: bool = False) -> str:
        return "".join("" if i == EOS else chr(i) for i in ids)

    def apply_chat_template(self, messages, add_generation_prompt=True, tokenize=False) -> str:
        body = "".join(f"<{m['role']}>{m['content']}\n" for m in messages)
        return body + ("<assistant>" if add_generation_prompt else "")

    def __len__(self) -> int:
        return 0x110000


class FakeEngine:
    def __init__(self, respond: Callable[[str], str], max_model_len: int = 100_000, name: str = "fake") -> None:
        self.respond = respond
        self.tokenizer = ChatTokenizer(CharTokenizer())
        self.max_model_len = max_model_len
        self.name = name
        self.calls: list[list[GenRequest]] = []

    # The streaming surface the runner reads. A fake answers at once: each `agenerate` is one engine call, so
    # control-logic tests see a deterministic call structure (StreamingAdapter exercises the real streaming).
    capacity = 64
    in_flight = 0
    generated_tokens = 0

    def busy_seconds(self) -> float:
        return 0.0

    async def agenerate(self, requests) -> list[GenResult]:
        live = [r for r in requests if r.max_tokens > 0]
        answers = iter(self.generate(live) if live else [])
        return [next(answers) if r.max_tokens > 0 else GenResult((), "", "length") for r in requests]

    def identity(self) -> dict:
        return {"engine": "fake", "model": self.name}

    def generate(self, requests: list[GenRequest]) -> list[GenResult]:
        self.calls.append(list(requests))
        out = []
        for r in requests:
            text = self.respond(self.tokenizer.decode(r.prompt_ids))
            ids: list[int] = []
            finish = "length"
            for ch in text + "\x00":
                if len(ids) >= r.max_tokens:
                    break
                if ch == "\x00":
                    finish = "eos"
                    break
                ids.append(ord(ch))
                if ids[-1] in r.stop_ids or any(self.tokenizer.decode(ids).endswith(s) for s in r.stop_strings):
                    finish = "stop"
                    break
            out.append(GenResult(tuple(ids), self.tokenizer.decode(ids), finish))
        return out

    def close(self) -> None:
        pass


class Spy:
    """Wraps a real engine: records every batch of requests a controller sends, then asks the engine."""

    def __init__(self, engine) -> None:
        self.engine, self.calls = engine, []
        self.tokenizer, self.max_model_len, self.name = engine.tokenizer, engine.max_model_len, engine.name

    def generate(self, requests):
        self.calls.append(list(requests))
        return self.engine.generate(requests)

    async def agenerate(self, requests):
        self.calls.append(list(requests))
        return await self.engine.agenerate(requests)

    def __getattr__(self, name):  # capacity, in_flight, busy_seconds ... of the real engine
        return getattr(self.engine, name)

    def identity(self) -> dict:
        return self.engine.identity()

    def close(self) -> None:
        pass


# --- driving asyncio controllers from synchronous tests ---------------------------------------------------------


def drive(coro):
    """Run one controller coroutine (over FakeEngine or a real streaming engine) to its end."""
    import asyncio

    return asyncio.run(coro)


def run_elastic(engine, jobs, ctx, progress=None):
    from evalkit.reasoning import budget

    return drive(budget.run_elastic(engine, jobs, ctx, progress))


def run_strategies(engine, work, ctx, options=None, progress=None):
    from evalkit.reasoning import strategies

    return drive(strategies.run_strategies(engine, work, ctx, options, progress))
