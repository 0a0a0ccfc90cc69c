"""Validated, frozen run specifications built from CLI flags: budgets, sampling, SweepSpec.

Budgets follow Elastic Reasoning's convention: `1k` = 1024 tokens (powers of two), plain integers are token
counts, and `unconstrained` means "only the model's length limit".
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from evalkit.errors import EvalkitError
from evalkit.types import Sampling

UNCONSTRAINED = "unconstrained"
# Budget strategies (evalkit.reasoning.strategies defines each): the first is the default.
STRATEGIES = ("elastic", "truncate", "s1", "prompt", "prompt-max", "native")
THINK_CLOSE_TEXT = "</think>"
# --close-text presets: what is forced at the cut (elastic, s1, native). `qwen`: Qwen3's thinking-budget
# transition sentence; `sglang`: the text SGLang's thinking-budget processor forces.
CLOSE_PRESETS = {
    "qwen": "Considering the limited time by the user, I have to give the solution based on the thinking directly "
            "now.</think>",
    "sglang": "\n</think>",
}
DEFAULT_PROMPT_CAP = 2.0  # prompt strategies: output capped at this multiple of the N written in the prompt
_BUDGET_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmM]?)\s*$")


def parse_budget(text: str) -> int:
    """'1k' -> 1024, '1.5k' -> 1536, '512' -> 512. Raises EvalkitError naming the accepted forms."""
    m = _BUDGET_RE.match(str(text))
    if not m:
        raise EvalkitError(f"budget {text!r} is not a token count: use forms like 512, 1k, 2k, 4k (1k = 1024)")
    value = float(m.group(1)) * {"": 1, "k": 1024, "m": 1024 * 1024}[m.group(2).lower()]
    if value != int(value) or value < 1:
        raise EvalkitError(f"budget {text!r} must be a whole number of tokens >= 1 (e.g. 512, 1k)")
    return int(value)


def budget_label(tokens: int | None) -> str:
    """1024 -> '1k', 1536 -> '1536', None -> 'unconstrained'. Labels are the keys used in files and plots."""
    if tokens is None:
        return UNCONSTRAINED
    if tokens % 1024 == 0:
        return f"{tokens // 1024}k"
    return str(tokens)


def budget_order(tokens: int | None) -> tuple[bool, int]:
    """The one order of budget points everywhere: ascending tokens, unconstrained (None) last."""
    return (tokens is None, tokens or 0)


def label_order(label: str) -> tuple[bool, int, str]:
    """`budget_order` for a label as files write it ('512', '1k', '10k', 'unconstrained'); labels that are not
    budgets (offload policies) come after them, by name."""
    if label == UNCONSTRAINED:
        return (True, 0, label)
    try:
        return (*budget_order(parse_budget(label)), label)
    except EvalkitError:
        return (True, 1, label)


def parse_budget_list(text: str) -> tuple[int, ...]:
    items = [t for t in str(text).split(",") if t.strip()]
    if not items:
        raise EvalkitError("--budgets is empty: give a comma-separated list such as 1k,2k,4k")
    values = sorted({parse_budget(t) for t in items})
    return tuple(values)


def parse_strategies(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """'elastic,s1' or ('elastic', 's1') -> ('elastic', 's1'): known names, duplicates dropped, order kept."""
    items = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(dict.fromkeys(str(t).strip().lower() for t in items if str(t).strip()))
    if not names:
        raise EvalkitError(f"--strategy is empty: give one or more of {', '.join(STRATEGIES)}, e.g. elastic,truncate,s1")
    unknown = [n for n in names if n not in STRATEGIES]
    if unknown:
        raise EvalkitError(f"unknown strategy {unknown[0]!r}: use one or more of {', '.join(STRATEGIES)} (comma-separated)")
    return names


def resolve_close_text(text: str) -> str:
    """--close-text: a preset name (qwen, sglang) or the literal text; it must end in `</think>`, which is where
    every engine and the grader see thinking end."""
    value = CLOSE_PRESETS.get(text, text)
    if not value.endswith(THINK_CLOSE_TEXT):
        raise EvalkitError(
            f"--close-text {text!r} does not end in {THINK_CLOSE_TEXT}: use a preset ({', '.join(CLOSE_PRESETS)}) "
            f"or text ending in {THINK_CLOSE_TEXT}"
        )
    return value


@dataclass(frozen=True)
class EngineSpec:
    """How to build the engine; only `model` and `kind` change what is generated."""

    kind: str = "vllm"
    model: str = "smollm2-demo"
    max_model_len: int | None = None  # None: the model's own limit
    gpu_memory_utilization: float | None = None  # None: 0.9 on a GPU, 0.4 on CPU (vLLM's KV cache share)
    tensor_parallel_size: int = 1
    pipeline_parallel_size: int = 1
    data_parallel_size: int = 1
    dtype: str = "auto"
    endpoints: tuple[str, ...] = ()  # openai engine: server base URLs sharing the load
    tokenizer: str | None = None  # openai/hf engines: where to load the tokenizer from (default: model)
    concurrency: int | None = None  # openai: requests in flight per endpoint (64); hf: batch size (16)
    retries: int = 5  # openai: retries per request on connection errors and 5xx before giving up
    request_timeout: float = 600.0  # openai: seconds to wait for one completion
    device: str | None = None  # hf engine: "cpu", "cuda", "cuda:1" (default: cuda if available)
    # vllm engine: the reasoning parser behind its native thinking budget (`native` sets deepseek_r1 if unset)
    reasoning_parser: str | None = None
    reasoning_end: str | None = None  # vllm engine: the text it forces at the budget (--close-text)
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.endpoints and self.kind != "openai":
            raise EvalkitError(f"--endpoint only applies to --engine openai (got --engine {self.kind}): add --engine openai")
        if self.kind == "openai" and not self.endpoints:
            raise EvalkitError("--engine openai needs --endpoint URL[,URL...] (e.g. --endpoint http://127.0.0.1:8000)")
        if self.concurrency is not None and self.concurrency < 1:
            raise EvalkitError(f"--concurrency must be >= 1 (got {self.concurrency})")
        if self.retries < 0:
            raise EvalkitError(f"--retries must be >= 0 (got {self.retries})")
        if self.request_timeout <= 0:
            raise EvalkitError(f"--request-timeout must be > 0 seconds (got {self.request_timeout})")


def card_files(paths: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Benchmark card paths made absolute, so a resumed run or `evalkit grade` finds them from any folder."""
    return tuple(dict.fromkeys(str(Path(p).expanduser().resolve()) for p in paths))


def check_runner_options(max_inflight: int | None, grade_workers: int | None) -> None:
    if max_inflight is not None and max_inflight < 1:
        raise EvalkitError(f"--max-inflight must be >= 1 request (got {max_inflight})")
    if grade_workers is not None and grade_workers < 1:
        raise EvalkitError(f"--grade-workers must be >= 1 (got {grade_workers}); leave it out for one per free CPU")


@dataclass(frozen=True)
class SweepSpec:
    name: str
    engine: EngineSpec
    benchmarks: tuple[str, ...]
    budgets: tuple[int, ...]  # thinking budgets t, ascending
    solution_budget: int = 1024
    unconstrained: bool = False
    strategy: tuple[str, ...] = ("elastic",)  # budget strategies run side by side; "a,b" or "a" also accepted
    min_thinking: int = 0  # s1: thinking tokens before `</think>` is allowed ("Wait" is appended until then)
    prompt_cap: float = DEFAULT_PROMPT_CAP  # prompt strategies: output cap = prompt_cap x N
    close_text: str = THINK_CLOSE_TEXT  # elastic, s1, native: forced at the cut (a preset name is resolved)
    samples: int = 1
    sampling: Sampling = Sampling()
    seed: int = 0
    limit: int | None = None
    share_thinking: bool = True
    prompts: dict[str, str] = field(default_factory=dict)  # benchmark (or "*") -> template with {problem}
    data_dir: str | None = None
    benchmark_options: dict[str, Any] = field(default_factory=dict)  # e.g. arith difficulty / count
    benchmark_cards: tuple[str, ...] = ()  # card files (absolute) that define custom benchmarks of this run
    max_inflight: int | None = None  # requests in flight at most (default: what the engine can schedule)
    grade_timeout: float = 10.0
    grade_workers: int | None = None  # grading processes (default: the CPUs left beside the engine)
    out_root: str = "results"

    def __post_init__(self) -> None:
        object.__setattr__(self, "strategy", parse_strategies(self.strategy))
        object.__setattr__(self, "close_text", resolve_close_text(self.close_text))
        object.__setattr__(self, "benchmark_cards", card_files(self.benchmark_cards))
        if self.min_thinking < 0:
            raise EvalkitError(f"--min-thinking must be >= 0 tokens (got {self.min_thinking})")
        if not self.prompt_cap >= 1.0:
            raise EvalkitError(f"--prompt-cap must be >= 1 (a multiple of the N in the prompt; got {self.prompt_cap})")
        if not self.benchmarks:
            raise EvalkitError("no benchmark given: pass --benchmarks, e.g. --benchmarks arith (see `evalkit benchmarks`)")
        if not self.budgets and not self.unconstrained:
            raise EvalkitError("no budget given: pass --budgets 1k,2k,4k and/or --unconstrained")
        if self.samples < 1:
            raise EvalkitError(f"--samples must be >= 1 (got {self.samples})")
        if self.solution_budget < 1:
            raise EvalkitError(f"--solution-budget must be >= 1 token (got {self.solution_budget})")
        if not 0.0 <= self.sampling.temperature:
            raise EvalkitError(f"--temperature must be >= 0 (got {self.sampling.temperature})")
        if not 0.0 < self.sampling.top_p <= 1.0:
            raise EvalkitError(f"--top-p must be in (0, 1] (got {self.sampling.top_p})")
        if self.limit is not None and self.limit < 1:
            raise EvalkitError(f"--limit must be >= 1 (got {self.limit})")
        check_runner_options(self.max_inflight, self.grade_workers)

    @property
    def run_dir(self) -> Path:
        return Path(self.out_root) / self.name

    @property
    def budget_points(self) -> tuple[int | None, ...]:
        """Thinking budgets in ascending order, with None (unconstrained) last."""
        return tuple(self.budgets) + ((None,) if self.unconstrained else ())

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> "SweepSpec":
        row = dict(row)
        row["engine"] = EngineSpec(**{**row["engine"], "endpoints": tuple(row["engine"].get("endpoints", ()))})
        row["sampling"] = Sampling(**row["sampling"])
        for key in ("benchmarks", "budgets"):
            row[key] = tuple(row[key])
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in known})

    def generation_fingerprint(self) -> dict[str, Any]:
        """The fields that change what a given (problem, sample, budget) generates. A resumed run must match
        them exactly; budgets, benchmarks, limit, samples and benchmark selection options may change between
        invocations (problem ids identify content: generated `arith` ids carry their difficulty and seed)."""
        return {
            "engine.kind": self.engine.kind,
            "engine.model": self.engine.model,
            "solution_budget": self.solution_budget,
            # Strategies are not here: rows are keyed by strategy, so a run may gain strategies when resumed.
            # Their settings are, once they differ from the default (older run.json files lack them).
            **({"s1.min_thinking": self.min_thinking} if "s1" in self.strategy and self.min_thinking else {}),
            # What is forced at the cut changes every forced row; the default is left out (older run.json files).
            **({"close_text": self.close_text} if self.close_text != THINK_CLOSE_TEXT else {}),
            **({"prompt.prompt_cap": self.prompt_cap}
               if self.prompt_cap != DEFAULT_PROMPT_CAP and {"prompt", "prompt-max"} & set(self.strategy) else {}),
            "sampling": asdict(self.sampling),
            "seed": self.seed,
            "prompts": dict(self.prompts),
        }
