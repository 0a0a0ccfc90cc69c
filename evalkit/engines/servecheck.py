"""Does a server serve the model, and tokenize the way, a run expects? Checks for `evalkit serve-check` and for
the openai engine's start-up.

Checks, each pass / fail / skip:
- reachable: GET /v1/models answers;
- model: one served model's id or root names the expected model (hub id, local path, or its last component);
- tokenizer: the server's /tokenize (vLLM, SGLang) gives the same ids as the local tokenizer on probe texts,
  a chat prompt and `</think>` (skipped where the server has no /tokenize);
- round trip: a greedy 8-token completion from a token-id prompt returns token ids (so cuts at a budget need no
  re-tokenisation) and those ids decode locally to the server's text.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal

from evalkit.engines.base import THINK_CLOSE, ChatTokenizer
from evalkit.engines.http import Endpoint, JsonConnection, Rejected, Transient

Status = Literal["pass", "fail", "skip"]
PROBES = (
    "Let's think step by step. </think> \\boxed{42} def f(x):\n    return x**2",
    "Ünïcödé ∑ 数学 🙂  tabs\tand  spaces",
)


@dataclass(frozen=True)
class Check:
    name: str
    status: Status
    detail: str


@dataclass
class ServerReport:
    endpoint: Endpoint
    checks: list[Check] = field(default_factory=list)
    served_model: str | None = None  # the `model` value requests must carry
    root: str | None = None
    max_model_len: int | None = None
    version: str | None = None
    returns_token_ids: bool = False
    server_kind: str = ""  # "vllm", "sglang" (the model card's owned_by): how a thinking budget is requested

    @property
    def ok(self) -> bool:
        return all(c.status != "fail" for c in self.checks)

    def first_failure(self) -> str:
        bad = next(c for c in self.checks if c.status == "fail")
        return f"{self.endpoint.url}: {bad.name} check failed: {bad.detail}"

    def add(self, name: str, status: Status, detail: str) -> None:
        self.checks.append(Check(name, status, detail))


def expected_names(model: str, path: str | None) -> set[str]:
    """Names under which a server may legitimately serve `model`: as typed, its resolved path, last components."""
    names = {model.rstrip("/")}
    if path:
        names |= {path.rstrip("/"), os.path.realpath(path)}
    names |= {n.rstrip("/").split("/")[-1] for n in list(names)}
    return {n for n in names if n}


def _matches(card: dict[str, Any], names: set[str]) -> bool:
    for key in ("id", "root"):
        value = card.get(key)
        if not isinstance(value, str) or not value:
            continue
        value = value.rstrip("/")
        if value in names or value.split("/")[-1] in names:
            return True
        if os.path.exists(value) and os.path.realpath(value) in names:
            return True
    return False


def check_server(
    endpoint: Endpoint, model: str, model_path: str | None, tokenizer: ChatTokenizer, timeout: float = 60.0,
) -> ServerReport:
    """Run every check against one server; never raises for server trouble (it becomes a failed check)."""
    rep = ServerReport(endpoint)
    conn = JsonConnection(endpoint, timeout)
    try:
        try:
            listing = conn.call("GET", "/v1/models")
        except (Transient, Rejected) as e:
            rep.add("reachable", "fail", f"GET /v1/models: {e} (is the server up, and is the URL right?)")
            return rep
        cards = [c for c in (listing or {}).get("data", []) if isinstance(c, dict)]
        if not cards:
            rep.add("reachable", "fail", "GET /v1/models lists no model")
            return rep
        rep.add("reachable", "pass", f"{len(cards)} model(s) served")
        try:
            version = conn.call("GET", "/version")
            rep.version = version.get("version") if isinstance(version, dict) else None
        except (Transient, Rejected):
            pass
        names = expected_names(model, model_path)
        card = next((c for c in cards if _matches(c, names)), None)
        served = ", ".join(str(c.get("id")) for c in cards)
        if card is None:
            rep.add("model", "fail", f"serves {served}, but the run expects {model!r}: pass --model with the served "
                                     "model (and --tokenizer if that name is not a path or hub id), or fix --endpoint")
            return rep
        rep.served_model = str(card["id"])
        rep.root = card.get("root")
        rep.server_kind = str(card.get("owned_by") or "").lower()
        mml = card.get("max_model_len")
        rep.max_model_len = int(mml) if isinstance(mml, int) and mml > 0 else None
        rep.add("model", "pass", f"{rep.served_model}" + (f" (root {rep.root})" if rep.root and rep.root != rep.served_model else "")
                + (f", max_model_len {rep.max_model_len}" if rep.max_model_len else ""))
        _check_tokenize(conn, rep, tokenizer)
        _check_round_trip(conn, rep, tokenizer)
        return rep
    finally:
        conn.close()


def _check_tokenize(conn: JsonConnection, rep: ServerReport, tok: ChatTokenizer) -> None:
    texts = list(PROBES) + [THINK_CLOSE, tok.chat_text("What is 2 + 3?")]
    for text in texts:
        try:
            data = conn.call("POST", "/tokenize", {"model": rep.served_model, "prompt": text, "add_special_tokens": False})
        except Rejected as e:
            if e.status in (404, 405, 501):
                rep.add("tokenizer", "skip", "the server has no /tokenize endpoint; the round-trip check still runs")
            else:
                rep.add("tokenizer", "fail", f"POST /tokenize: {e}")
            return
        except Transient as e:
            rep.add("tokenizer", "fail", f"POST /tokenize: {e}")
            return
        remote = data.get("tokens") if isinstance(data, dict) else None
        local = tok.encode(text)
        if remote != local:
            where = next((i for i, (a, b) in enumerate(zip(remote or [], local)) if a != b), min(len(remote or []), len(local)))
            rep.add("tokenizer", "fail", f"{text[:40]!r} encodes differently from token {where} on (server "
                                         f"{(remote or [])[where:where + 4]}, local {local[where:where + 4]}): pass "
                                         "--tokenizer with the served model's tokenizer")
            return
    rep.add("tokenizer", "pass", f"{len(texts)} probe texts (incl. the chat prompt and {THINK_CLOSE!r}) encode identically")


def _check_round_trip(conn: JsonConnection, rep: ServerReport, tok: ChatTokenizer) -> None:
    prompt = tok.chat_prompt_ids("What is 2 + 3?")
    body = {"model": rep.served_model, "prompt": prompt, "max_tokens": 8, "temperature": 0.0, "seed": 0,
            "return_token_ids": True, "skip_special_tokens": False}
    try:
        data = conn.call("POST", "/v1/completions", body)
    except (Transient, Rejected) as e:
        rep.add("round trip", "fail", f"a token-id completion failed: {e}")
        return
    choice = (data or {}).get("choices", [{}])[0] if isinstance(data, dict) else {}
    ids = choice.get("token_ids")
    if ids is None:
        rep.add("round trip", "skip", "the server returns no token ids: evalkit re-tokenises its text, which can "
                                      "drift at budget cuts (a recent vLLM returns them with return_token_ids)")
        return
    rep.returns_token_ids = True
    ids = [i for i in ids if i not in tok.eos_ids]
    text = choice.get("text", "")
    local = tok.decode(ids)
    if local != text and not text.startswith(local) and not local.startswith(text):
        rep.add("round trip", "fail", f"token ids {ids[:6]} decode locally to {local[:30]!r} but the server wrote "
                                      f"{text[:30]!r}: pass --tokenizer with the served model's tokenizer")
        return
    rep.add("round trip", "pass", f"{len(ids)} generated token ids decode locally to the server's text")
