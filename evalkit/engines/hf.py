"""transformers as an evalkit engine (CPU or GPU): batched token-level generation with evalkit's own decode loop.

`model.generate` shares one max_new_tokens, one set of sampling settings and one random stream across a batch;
the Engine contract needs them per request (every request has its own budget, stop ids and seed). So this
module runs the loop itself: left-padded prefill, one KV-cached step per token for the whole batch, rows leave
the batch (and the cache) as they finish.

Stop rules follow the in-process vLLM engine, in its order: the model's EOS ends a row as "eos" (EOS not kept),
then a stop id ends it as "stop" (kept), then a stop string in the generated text ends it as "stop" (every token
up to the one that completed the string kept), then max_tokens ends it as "length". Sampling: temperature, then
top-k, then top-p, one seeded torch.Generator per request; temperature 0 is greedy.

A request's `thinking_budget` is forced here as vLLM forces it (strategy `native`): thinking tokens are counted
after the last `<think>` of prompt + output, prompt tokens included; once they reach the budget with thinking
still open, the request's `forced_close` tokens replace what the model would have sampled, one per step.
"""

from __future__ import annotations

from typing import Any

from evalkit.config import EngineSpec
from evalkit.engines.base import ChatTokenizer
from evalkit.engines.localtok import config_eos_ids, load_chat_tokenizer
from evalkit.engines.streaming import BatchStreaming
from evalkit.errors import EvalkitError
from evalkit.types import Finish, GenRequest, GenResult

DEFAULT_BATCH = 16


class HFEngine(BatchStreaming):
    def __init__(self, spec: EngineSpec, log=print) -> None:
        self._init_stream()
        try:
            import torch
            from transformers import AutoModelForCausalLM
        except ImportError:
            raise EvalkitError("the hf engine needs torch and transformers: pip install 'evalkit[hf]'") from None
        if spec.concurrency is not None and spec.concurrency < 1:
            raise EvalkitError(f"--concurrency (the hf batch size) must be >= 1 (got {spec.concurrency})")
        self.spec = spec
        self.name = spec.model
        self.tokenizer, self.path = load_chat_tokenizer(spec.tokenizer or spec.model, log)
        if spec.tokenizer:  # the weights still come from --model
            from evalkit.engines.models import resolve_model

            self.path = resolve_model(spec.model, log)
        self.device = spec.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype: Any = "auto" if spec.dtype == "auto" else getattr(torch, spec.dtype, None)
        if dtype is None:
            raise EvalkitError(f"--dtype {spec.dtype!r} is not a torch dtype: use auto, float32, bfloat16 or float16")
        try:
            self.model = AutoModelForCausalLM.from_pretrained(self.path, dtype=dtype).to(self.device)
        except Exception as e:
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EvalkitError(f"transformers could not load {spec.model!r} on {self.device}: {first}") from e
        self.model.eval()
        # Ids only the generation config names as EOS also end a row, as they would in model.generate.
        self.tokenizer = ChatTokenizer(self.tokenizer.hf, sorted(self.tokenizer.eos_ids | set(config_eos_ids(self.path))))
        limit = getattr(self.model.config, "max_position_embeddings", None)
        self.max_model_len = int(spec.max_model_len or limit or 2048)
        self.batch = spec.concurrency or DEFAULT_BATCH
        self.capacity = self.batch
        pad = getattr(self.tokenizer.hf, "pad_token_id", None)
        self.pad_id = int(pad if pad is not None else min(self.tokenizer.eos_ids))

    def identity(self) -> dict[str, Any]:
        import torch
        import transformers

        return {"engine": "hf", "transformers": transformers.__version__, "torch": torch.__version__,
                "model": self.spec.model, "path": self.path, "device": self.device,
                "dtype": str(next(self.model.parameters()).dtype)}

    def close(self) -> None:
        self.close_stream()
        self.model = None

    def _generate_batch(self, requests: list[GenRequest]) -> list[GenResult]:
        """One streaming batch (what was queued, up to the batch size)."""
        if not requests:
            return []
        for r in requests:
            if len(r.prompt_ids) + max(1, r.max_tokens) > self.max_model_len:
                raise EvalkitError(f"a request of {len(r.prompt_ids)} prompt + {r.max_tokens} new tokens exceeds the "
                                   f"context limit {self.max_model_len}: lower the budgets or raise --max-model-len")
        # Similar prompt lengths in one batch waste less padding; results go back in request order.
        order = sorted(range(len(requests)), key=lambda i: len(requests[i].prompt_ids))
        results: list[GenResult | None] = [None] * len(requests)
        for start in range(0, len(order), self.batch):
            chunk = order[start : start + self.batch]
            for i, res in zip(chunk, self._decode_batch([requests[i] for i in chunk])):
                results[i] = res
        return [r for r in results if r is not None]

    def _decode_batch(self, reqs: list[GenRequest]) -> list[GenResult]:
        import torch

        dev = self.device
        n = len(reqs)
        width = max(len(r.prompt_ids) for r in reqs)
        ids = torch.full((n, width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((n, width), dtype=torch.long)
        for i, r in enumerate(reqs):
            ids[i, width - len(r.prompt_ids):] = torch.tensor(r.prompt_ids, dtype=torch.long)
            mask[i, width - len(r.prompt_ids):] = 1
        ids, mask = ids.to(dev), mask.to(dev)
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        gens = [torch.Generator(device="cpu").manual_seed(r.seed % (2**63)) for r in reqs]
        out_ids: list[list[int]] = [[] for _ in reqs]
        finish: list[Finish | None] = [None] * n
        live = list(range(n))  # request index of each row still in the batch
        budgets = [_ThinkingBudget.of(r, self._think_ids()) for r in reqs]
        with torch.inference_mode():
            step = self.model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
            cache = step.past_key_values
            logits = step.logits[:, -1, :]
            next_pos = positions[:, -1:] + 1
            while live:
                chosen = self._choose(logits, [reqs[i] for i in live], [gens[i] for i in live])
                keep = []
                for row, i in enumerate(live):
                    tok = chosen[row] if budgets[i] is None else budgets[i].next(chosen[row])
                    f = self._after(reqs[i], out_ids[i], tok)
                    if f is None:
                        keep.append(row)
                    else:
                        finish[i] = f
                if not keep:
                    break
                if len(keep) < len(live):
                    sel = torch.tensor(keep, dtype=torch.long, device=dev)
                    cache.reorder_cache(sel)
                    mask, next_pos = mask[sel], next_pos[sel]
                    live = [live[r] for r in keep]
                step_ids = torch.tensor([[out_ids[i][-1]] for i in live], dtype=torch.long, device=dev)
                mask = torch.cat([mask, torch.ones((len(live), 1), dtype=mask.dtype, device=dev)], dim=1)
                step = self.model(input_ids=step_ids, attention_mask=mask, position_ids=next_pos,
                                  past_key_values=cache, use_cache=True)
                cache = step.past_key_values
                logits = step.logits[:, -1, :]
                next_pos = next_pos + 1
        return [GenResult(tuple(o), self.tokenizer.decode(o), f or "length") for o, f in zip(out_ids, finish)]

    def _think_ids(self) -> tuple[int, int] | None:
        """(`<think>`, `</think>`) ids when both are single tokens, which the engine budget needs."""
        if not hasattr(self, "_think"):
            open_ids, close_ids = self.tokenizer.encode("<think>"), self.tokenizer.close_ids
            self._think = (open_ids[0], close_ids[0]) if len(open_ids) == 1 == len(close_ids) else None
        return self._think

    def _after(self, req: GenRequest, out: list[int], tok: int) -> Finish | None:
        """Record `tok` for this request and say whether (and why) the request is finished."""
        if tok in self.tokenizer.eos_ids:  # EOS wins over a stop id, as in vLLM
            return "eos"
        out.append(tok)
        if tok in req.stop_ids:
            return "stop"
        if req.stop_strings:
            # A stop string of c characters lies within the last c + 1 tokens (every token has >= 1 character,
            # and one more covers a token that began mid-string).
            longest = max(len(s) for s in req.stop_strings)
            tail = self.tokenizer.decode(out[-(longest + 1):])
            if any(s in tail for s in req.stop_strings):
                return "stop"
        if len(out) >= max(1, req.max_tokens):
            return "length"
        return None

    def _choose(self, logits: Any, reqs: list[GenRequest], gens: list[Any]) -> list[int]:
        import torch

        logits = logits.float()
        out = []
        for row, (r, g) in enumerate(zip(reqs, gens)):
            x = logits[row]
            s = r.sampling
            if s.greedy:
                out.append(int(torch.argmax(x)))
                continue
            x = x / s.temperature
            if 0 < s.top_k < x.shape[-1]:
                kth = torch.topk(x, s.top_k).values[-1]
                x = x.masked_fill(x < kth, float("-inf"))
            if s.top_p < 1.0:
                sorted_x, idx = torch.sort(x, descending=True)
                probs = torch.softmax(sorted_x, dim=-1)
                # Drop a token once the mass before it already reaches top_p (the first token always stays).
                drop = (probs.cumsum(-1) - probs) >= s.top_p
                sorted_x = sorted_x.masked_fill(drop, float("-inf"))
                x = torch.full_like(x, float("-inf")).scatter(0, idx, sorted_x)
            probs = torch.softmax(x, dim=-1).cpu()
            out.append(int(torch.multinomial(probs, 1, generator=g)))
        return out


class _ThinkingBudget:
    """One request's engine thinking budget: counts thinking tokens, then forces the close (module docstring)."""

    def __init__(self, budget: int, close: tuple[int, ...], think: tuple[int, int], prompt: tuple[int, ...]) -> None:
        open_id, self.close_id = think
        last_open = max((i for i, t in enumerate(prompt) if t == open_id), default=-1)
        last_close = max((i for i, t in enumerate(prompt) if t == self.close_id), default=-1)
        self.thinking = last_open > last_close
        self.count = len(prompt) - last_open - 1 if self.thinking else 0
        self.budget = budget
        self.close = close
        self.forcing: list[int] = []

    @classmethod
    def of(cls, req: GenRequest, think: tuple[int, int] | None) -> "_ThinkingBudget | None":
        if req.thinking_budget is None:
            return None
        if think is None:
            raise EvalkitError("this model's `<think>`/`</think>` are not single tokens: the hf engine cannot force a "
                               "thinking budget on it; use --strategy elastic")
        return cls(req.thinking_budget, req.forced_close or (think[1],), think, req.prompt_ids)

    def next(self, sampled: int) -> int:
        """The token this step emits: the sampled one, or the next forced close token."""
        if self.thinking and not self.forcing and self.count >= self.budget:
            self.forcing = list(self.close)
        tok = self.forcing.pop(0) if self.forcing else sampled
        if tok == self.close_id:
            self.thinking = False
            self.forcing = []
        elif self.thinking:
            self.count += 1
        return tok
