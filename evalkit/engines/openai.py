"""OpenAI-compatible completion servers (vLLM, SGLang) as a streaming evalkit engine, over one or more endpoints.

Requests go out as token-id prompts and come back as token ids (`return_token_ids`), so a thinking phase cut at
a budget continues from exactly the tokens the model wrote. The tokenizer is loaded locally and checked against
every server at start (see servecheck.py).

This module owns the start-up checks and the wire format. Dispatch is replicas.py's: each request is delivered
the moment its answer arrives, with `--concurrency` requests in flight per endpoint, one queue shared by all
replicas (a faster one takes more), retries with backoff on connection errors, timeouts, 408/429 and 5xx, health
probes that take a dead replica out of rotation (re-probed every 30 s, rejoining when it answers), and one clear
EvalkitError for a request the server rejects (other 4xx) or when no endpoint answers any more.
"""

from __future__ import annotations

from typing import Any

from evalkit.config import EngineSpec
from evalkit.engines.base import ChatTokenizer
from evalkit.engines.http import Endpoint, JsonConnection, Transient
from evalkit.engines.localtok import load_chat_tokenizer
from evalkit.engines.replicas import Replica, ReplicaEngine
from evalkit.engines.servecheck import check_server
from evalkit.errors import EvalkitError
from evalkit.types import GenRequest, GenResult

DEFAULT_CONCURRENCY = 64


class OpenAIEngine(ReplicaEngine):
    def __init__(self, spec: EngineSpec, log=print, tokenizer: ChatTokenizer | None = None,
                 tokenizer_path: str | None = None) -> None:
        if not spec.endpoints:
            raise EvalkitError("--engine openai needs --endpoint URL[,URL...] (e.g. --endpoint http://127.0.0.1:8000)")
        endpoints = [Endpoint.parse(u) for u in spec.endpoints]
        urls = [e.url for e in endpoints]
        if len(set(urls)) != len(urls):
            raise EvalkitError(f"--endpoint lists a server twice ({', '.join(urls)}): give each replica once")
        if spec.concurrency is not None and spec.concurrency < 1:
            raise EvalkitError(f"--concurrency must be >= 1 (got {spec.concurrency})")
        if spec.retries < 0:
            raise EvalkitError(f"--retries must be >= 0 (got {spec.retries})")
        self.spec = spec
        self.log = log
        self.name = spec.model
        if tokenizer is None:
            tokenizer, tokenizer_path = load_chat_tokenizer(spec.tokenizer or spec.model, log)
        self.tokenizer = tokenizer
        self.tokenizer_path = tokenizer_path
        self.concurrency = spec.concurrency or DEFAULT_CONCURRENCY
        self.retries = spec.retries
        self.timeout = spec.request_timeout
        self.retokenised = False  # set when a server returned text without token ids
        model_path = tokenizer_path if not spec.tokenizer else None
        self.reports = [check_server(e, spec.model, model_path, tokenizer, timeout=min(60.0, self.timeout)) for e in endpoints]
        for rep in self.reports:
            if not rep.ok:
                raise EvalkitError(rep.first_failure() + "  (run `evalkit serve-check URL` for every check)")
        self._init_replicas([(r.endpoint, r.served_model or spec.model) for r in self.reports])
        self._kinds = {r.endpoint.url: r.server_kind for r in self.reports}
        lens = [r.max_model_len for r in self.reports if r.max_model_len] + ([spec.max_model_len] if spec.max_model_len else [])
        self.max_model_len = min(lens) if lens else _config_max_len(tokenizer_path)

    # ---- Engine protocol -------------------------------------------------------------------------------------

    def identity(self) -> dict[str, Any]:
        return {
            "engine": "openai", "model": self.spec.model, "tokenizer": self.tokenizer_path,
            "max_model_len": self.max_model_len, "concurrency_per_endpoint": self.concurrency,
            "endpoints": [{"url": r.endpoint.url, "served_model": r.served_model, "root": r.root,
                           "server_version": r.version, "returns_token_ids": r.returns_token_ids} for r in self.reports],
        }

    def _complete(self, conn: JsonConnection, replica: Replica, req: GenRequest) -> GenResult:
        body = self._payload(req, replica.served_model, self._kinds.get(replica.endpoint.url, ""))
        return self._result(req, conn.call("POST", "/v1/completions", body))

    # ---- wire format -------------------------------------------------------------------------------------------

    def _payload(self, r: GenRequest, model: str, server_kind: str = "") -> dict[str, Any]:
        s = r.sampling
        body: dict[str, Any] = {
            "model": model, "prompt": list(r.prompt_ids), "max_tokens": max(1, r.max_tokens), "n": 1, "stream": False,
            "temperature": s.temperature, "top_p": 1.0 if s.greedy else s.top_p, "seed": r.seed,
            # Neutral values sent explicitly: a server may otherwise apply the model's generation_config defaults,
            # which the in-process engine does not.
            "repetition_penalty": 1.0, "presence_penalty": 0.0, "frequency_penalty": 0.0, "min_p": 0.0,
            "stop": list(r.stop_strings), "stop_token_ids": list(r.stop_ids), "include_stop_str_in_output": True,
            "skip_special_tokens": False, "return_token_ids": True,
        }
        if s.top_k > 0:
            body["top_k"] = s.top_k
        if r.thinking_budget is not None:
            # The server's own thinking budget (strategy `native`). vLLM: `thinking_token_budget`, honoured when
            # the server runs a reasoning parser (--reasoning-parser deepseek_r1; --reasoning-config sets the forced
            # text). SGLang: its thinking-budget logit processor reads `custom_params.thinking_budget` (server
            # started with --enable-custom-logit-processor). The native probe stops a run whose server ignores it.
            if server_kind == "sglang":
                body["custom_params"] = {"thinking_budget": r.thinking_budget}
            else:
                body["thinking_token_budget"] = r.thinking_budget
        return body

    def _result(self, req: GenRequest, data: Any) -> GenResult:
        choices = data.get("choices") if isinstance(data, dict) else None
        if not choices or not isinstance(choices[0], dict):
            raise Transient("completion response without choices")
        c = choices[0]
        ids = c.get("token_ids")
        if ids is None:
            if not self.retokenised:
                self.retokenised = True
                self.log("the server returns no token ids: evalkit re-tokenises its text, which can drift at budget "
                         "cuts (use a server that supports return_token_ids, e.g. a recent vLLM)")
            ids = self.tokenizer.encode(c.get("text") or "")
        ids = [int(i) for i in ids]
        reason = c.get("finish_reason")
        stop_reason = c.get("stop_reason", c.get("matched_stop"))
        eos = self.tokenizer.eos_ids
        if reason == "length":
            finish = "length"
        elif reason == "stop":
            # vLLM reports the model's EOS as stop_reason None; ids that only the model config names as EOS come
            # back as a stop id. Either is "eos" unless the caller asked to stop on that id.
            if stop_reason is None or (isinstance(stop_reason, int) and stop_reason in eos and stop_reason not in req.stop_ids):
                finish = "eos"
                if ids and ids[-1] in eos:
                    ids.pop()
            else:
                finish = "stop"
        else:
            raise Transient(f"finish_reason {reason!r}")
        return GenResult(tuple(ids), self.tokenizer.decode(ids), finish)


def _config_max_len(path: str | None) -> int:
    """The model's own context limit when no server reports one."""
    if path:
        try:
            from transformers import AutoConfig

            value = getattr(AutoConfig.from_pretrained(path), "max_position_embeddings", None)
            if value:
                return int(value)
        except Exception:
            pass
    raise EvalkitError("the server reports no max_model_len: pass --max-model-len with the server's context limit")
