"""`evalkit offload-sim` with models: OffloadSpec, plan what is missing, run one offload controller per
problem x sample x policy through the streaming runner, then summarise, simulate latency, plot.

An offload run directory is a sweep's (run.json, generations.jsonl with segments, grades.jsonl, summary.csv,
plots/) plus offload_summary.csv and the offload plots. Rows are keyed (strategy "offload", budget = policy
label) and appended the moment each sequence ends, so a killed run resumes with the same command, losing only the
requests in flight.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from rich.console import Console

from evalkit.benchmarks import get_benchmark, register_spec_cards
from evalkit.config import EngineSpec
from evalkit.engines.base import Engine
from evalkit.engines.factory import build_engine
from evalkit.engines.models import resolve_model
from evalkit.errors import EvalkitError
from evalkit.config import card_files, check_runner_options
from evalkit.engines.streaming import streaming
from evalkit.grading.dispatch import code_isolation
from evalkit.reasoning.jobs import Job
from evalkit.reasoning.offload import STRATEGY, OffloadContext, Policy, check_same_tokenizer, offload_group, policy_from_label
from evalkit.run.enginelog import engine_output_to_log
from evalkit.run.runner import Group, throttled
from evalkit.run.session import RunSession, finalize, load_all_problems, record_problems, ungraded
from evalkit.runinfo import check_resumable, run_info
from evalkit.store import RUN_JSON, RunStore
from evalkit.sweep import grade_workers
from evalkit.types import Generation, Problem, Sampling

RUN_KIND = "offload"


@dataclass(frozen=True)
class OffloadSpec:
    """Everything an offload run needs. `engine` is the small model (so sweep tools read the run), `big` the big one."""

    name: str
    engine: EngineSpec
    big: EngineSpec
    benchmarks: tuple[str, ...]
    policies: tuple[str, ...]  # labels: none, big, learned, random-0.25 ...
    thinking_budget: int = 1024
    solution_budget: int = 256
    span: int = 32
    span_cap: int = 512
    open_tag: str = "<bigmodel>"
    close_tag: str = "</bigmodel>"
    samples: int = 1
    sampling: Sampling = Sampling()
    seed: int = 0
    limit: int | None = None
    prompts: dict[str, str] = field(default_factory=dict)
    data_dir: str | None = None
    benchmark_options: dict[str, Any] = field(default_factory=dict)
    benchmark_cards: tuple[str, ...] = ()  # card files (absolute) that define custom benchmarks of this run
    max_inflight: int | None = None  # requests in flight at most, both models together (default: their capacity)
    grade_timeout: float = 10.0
    grade_workers: int | None = None
    out_root: str = "results"
    profiles: tuple[str, ...] = ("splitreason-a6000",)  # cost profiles for the summary (re-simulate any time)
    small_cost: str | None = None  # profile entry for the small model (default: the profile's own default)
    big_cost: str | None = None
    small_params: float | None = None  # parameters of each model, for cost in R2R's unit (None: counted from files)
    big_params: float | None = None
    strategy = STRATEGY  # a class constant, not a field: run.json keeps sweep-side readers on their defaults

    def __post_init__(self) -> None:
        object.__setattr__(self, "benchmark_cards", card_files(self.benchmark_cards))
        if not self.benchmarks:
            raise EvalkitError("no benchmark given: pass --benchmarks, e.g. --benchmarks arith")
        if not self.policies:
            raise EvalkitError("no offload policy given: pass --policies none,learned,random,big")
        for label in self.policies:
            policy_from_label(label)
        if self.samples < 1:
            raise EvalkitError(f"--samples must be >= 1 (got {self.samples})")
        if self.thinking_budget < 1 or self.solution_budget < 1:
            raise EvalkitError("--thinking-budget and --solution-budget must be >= 1 token")
        if self.limit is not None and self.limit < 1:
            raise EvalkitError(f"--limit must be >= 1 (got {self.limit})")
        check_runner_options(self.max_inflight, self.grade_workers)
        if self.engine.kind != self.big.kind:
            raise EvalkitError("small and big models must use the same --engine kind")
        self.context()  # validates span, span cap and tags

    @property
    def run_dir(self) -> Path:
        return Path(self.out_root) / self.name

    @property
    def policy_objects(self) -> tuple[Policy, ...]:
        return tuple(policy_from_label(p) for p in self.policies)

    def context(self) -> OffloadContext:
        return OffloadContext(
            thinking_budget=self.thinking_budget, solution_budget=self.solution_budget, sampling=self.sampling,
            seed=self.seed, span=self.span, span_cap=self.span_cap, open_tag=self.open_tag, close_tag=self.close_tag,
        )

    def to_json(self) -> dict[str, Any]:
        row = asdict(self)
        row["kind"] = RUN_KIND
        row["budgets"] = [self.thinking_budget]  # lets sweep-side tools (evalkit grade) read this run
        return row

    @classmethod
    def from_json(cls, row: dict[str, Any]) -> "OffloadSpec":
        if row.get("kind") != RUN_KIND:
            raise EvalkitError("this run directory holds a sweep, not an offload run: pass an offload run's folder")
        row = dict(row)
        for key in ("engine", "big"):
            row[key] = EngineSpec(**{**row[key], "endpoints": tuple(row[key].get("endpoints", ()))})
        row["sampling"] = Sampling(**row["sampling"])
        for key in ("benchmarks", "policies", "profiles"):
            row[key] = tuple(row.get(key, ()))
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in row.items() if k in known})

    def generation_fingerprint(self) -> dict[str, Any]:
        """What changes the text a (problem, sample, policy) generates; policies, benchmarks, limit and samples
        may grow between invocations of one run."""
        return {
            "engine.kind": self.engine.kind, "engine.model": self.engine.model, "big.model": self.big.model,
            "thinking_budget": self.thinking_budget, "solution_budget": self.solution_budget,
            "span": self.span, "span_cap": self.span_cap, "open_tag": self.open_tag, "close_tag": self.close_tag,
            "sampling": asdict(self.sampling), "seed": self.seed, "prompts": dict(self.prompts),
            "benchmark_options": dict(self.benchmark_options),
        }


@dataclass(frozen=True)
class OffloadRunResult:
    run_dir: Path
    generated: int
    graded: int
    summary_rows: int
    plots: tuple[Path, ...]
    wall_seconds: float
    generated_tokens: int
    engine_calls: int  # requests sent to the engines
    timing: dict[str, float] | None = None


def missing(spec: OffloadSpec, problems: dict[str, list[Problem]], done: set[tuple]) -> list[tuple[Problem, int, tuple[Policy, ...]]]:
    todo = []
    for name in spec.benchmarks:
        for p in problems[name]:
            for s in range(spec.samples):
                miss = tuple(pol for pol in spec.policy_objects if (name, p.id, s, STRATEGY, pol.label) not in done)
                if miss:
                    todo.append((p, s, miss))
    return todo


def build_engines(spec: OffloadSpec, console: Console) -> tuple[Engine, Engine]:
    """One engine when both roles name the same model with the same settings, else two (tokenizers compared)."""
    precheck_tokenizers(spec.engine.model, spec.big.model)
    if spec.big == spec.engine:
        console.print(f"[cyan]starting engine {spec.engine.kind} for {spec.engine.model} (small and big)[/]")
        engine = build_engine(spec.engine)
        return engine, engine
    # Two engines share one device: unless told otherwise each takes part of the memory.
    small_spec = spec.engine if spec.engine.gpu_memory_utilization else replace(spec.engine, gpu_memory_utilization=0.45)
    big_spec = spec.big if spec.big.gpu_memory_utilization else replace(spec.big, gpu_memory_utilization=0.45)
    console.print(f"[cyan]starting engines {spec.engine.kind}: small {spec.engine.model}, big {spec.big.model}[/]")
    small = build_engine(small_spec)
    try:
        big = build_engine(big_spec)
        check_same_tokenizer(small, big)
    except BaseException:
        small.close()
        raise
    return small, big


def precheck_tokenizers(small_model: str, big_model: str) -> None:
    """Compare the two tokenizers before loading any weights (a 32B model takes minutes), when both are on disk."""
    if small_model == big_model:
        return
    try:
        from transformers import AutoTokenizer

        from evalkit.engines.base import ChatTokenizer

        # Local files only (a directory, or the hub cache): no network here, the engines check once loaded.
        a = ChatTokenizer(AutoTokenizer.from_pretrained(resolve_model(small_model, lambda m: None), local_files_only=True)).fingerprint()
        b = ChatTokenizer(AutoTokenizer.from_pretrained(resolve_model(big_model, lambda m: None), local_files_only=True)).fingerprint()
    except EvalkitError:
        raise
    except Exception:
        return  # cannot read them here (no transformers, no hub): the engines are compared once loaded
    a.pop("eos"), b.pop("eos")  # generation configs may add EOS ids; the engines' check covers them
    if a != b:
        raise EvalkitError(
            f"small model {small_model!r} and big model {big_model!r} use different tokenizers: "
            "offload needs two models of one family with the same tokenizer"
        )


def run_offload_sweep(spec: OffloadSpec, console: Console | None = None,
                      engines: tuple[Engine, Engine] | None = None, allow_unsandboxed: bool = False,
                      engine_log: tuple[Console, ...] | None = None,
                      settings: tuple[str, str] | None = None) -> OffloadRunResult:
    """`settings`: (file name, text) written beside run.json once the run is accepted (the CLI's run.toml).
    `engine_log`: as in `run_sweep`, the engines' output goes to <run>/engine.log, these consoles keep the
    terminal; None leaves it where it goes."""
    from evalkit.offload_summary import write_offload_outputs
    from evalkit.sim.profile import merge_profiles, pick_costs
    from evalkit.sim.profiles import load_profile

    from evalkit.sim.params import count_params

    console = console or Console(stderr=True)
    t0 = time.monotonic()
    # Parameter counts from the models' safetensors headers (cheap, no engine), recorded in run.json for the summary.
    spec = replace(spec, small_params=spec.small_params or count_params(spec.engine.model),
                   big_params=spec.big_params or count_params(spec.big.model))
    # Cost profile first: a typo there should not cost an engine start.
    costs = pick_costs(merge_profiles([load_profile(p) for p in spec.profiles]), spec.small_cost, spec.big_cost,
                       spec.engine.model, spec.big.model)
    register_spec_cards(spec)  # the run's own benchmark cards, before any name is looked up
    # Code benchmarks need an isolated sandbox (or the user's explicit yes), known before any engine starts.
    isolation = code_isolation((get_benchmark(n).kind for n in spec.benchmarks), allow_unsandboxed)
    unsandboxed = isolation == "none"
    store = RunStore(spec.run_dir)
    previous = store.read_run() if store.path(RUN_JSON).exists() else None
    if previous is not None:
        if previous.get("spec", {}).get("kind") != RUN_KIND:
            raise EvalkitError(f"{spec.run_dir} holds a sweep, not an offload run: pass a new --name")
        check_resumable(previous, spec)  # type: ignore[arg-type]  (duck-typed: run_dir + generation_fingerprint)
    problems, identities = load_all_problems(spec)  # type: ignore[arg-type]
    store.open_for_append()
    record_problems(store, problems, identities)
    existing = store.generations()
    done = {g.key for g in existing}
    todo = missing(spec, problems, done)
    store.write_run(run_info(spec, None, identities, previous, unsandboxed))  # type: ignore[arg-type]
    if settings is not None:  # run.toml: the command's resolved settings, rerunnable with --config
        store.path(settings[0]).write_text(settings[1], encoding="utf-8")
    by_key = {(p.benchmark, p.id): p for ps in problems.values() for p in ps}
    total = sum(len(m) for _, _, m in todo)
    if existing:
        console.print(f"[cyan]resuming {spec.run_dir}: {len(done)} generations on disk, {total} to go[/]")
    leftovers = ungraded(store, by_key, existing)
    generated = tokens = 0
    timing: dict[str, float] | None = None
    calls = [0]  # requests sent, counted as each sequence ends (rows are not kept in memory)
    own = engines is None
    small = big = None
    streams: list[Any] = []
    if todo and engines is None:  # demo models are built before engine output goes to engine.log: say so here
        for model in (spec.engine.model, spec.big.model):
            resolve_model(model, lambda m: console.print(f"[cyan]{m}[/]"))
    with engine_output_to_log(spec.run_dir, (console, *(engine_log or ())), verbose=engine_log is None):
        try:
            with RunSession(store, console, grade_workers(spec), spec.grade_timeout, total, label="offload",
                            isolation=isolation) as session:
                session.grade_leftovers(leftovers)
                if todo:
                    if engines is None:
                        small, big = build_engines(spec, console)
                    else:
                        small, big = engines
                        check_same_tokenizer(small, big)
                    identity = {"small": small.identity(), "big": big.identity()}
                    store.write_run(run_info(spec, identity, identities, previous, unsandboxed))  # type: ignore[arg-type]
                    s_small = streaming(small)
                    s_big = s_small if big is small else streaming(big)
                    streams = [s_small, s_big]
                    c_small, c_big = throttled([s_small, s_big], spec.max_inflight)
                    groups = offload_groups(spec, c_small, c_big, todo, calls)
                    outcome = session.run([s_small, s_big], groups, spec.max_inflight)
                    generated, tokens = outcome.generated, outcome.tokens
                    timing = outcome.timing.to_json()
                graded = session.grading.done
        finally:
            for st, orig in zip(streams, (small, big)):
                if st is not orig:
                    st.close_stream()
            if own and small is not None:
                small.close()
                if big is not None and big is not small:
                    big.close()
    n_rows, plots = finalize(store, console, by_key.values())
    _, more = write_offload_outputs(store, costs, params=(spec.small_params, spec.big_params))
    return OffloadRunResult(spec.run_dir, generated, graded, n_rows, plots + tuple(more),
                            time.monotonic() - t0, tokens, calls[0], timing)


def offload_groups(spec: OffloadSpec, small: Any, big: Any, todo: list[tuple[Problem, int, tuple[Policy, ...]]],
                   calls: list[int]) -> list[Group]:
    """One controller per problem x sample x policy."""
    system = {n: get_benchmark(n).system_prompt for n in spec.benchmarks}
    ctx = spec.context()
    prompts: dict[tuple[str, str], tuple[int, ...]] = {}

    def group(p: Problem, s: int, pol: Policy) -> Group:
        async def run() -> list[Generation]:
            key = (p.benchmark, p.id)
            if key not in prompts:
                prompts[key] = tuple(small.tokenizer.chat_prompt_ids(p.prompt, system[p.benchmark]))
            gen = await offload_group(small, big, Job(p, prompts[key], s, ()), pol, ctx)
            calls[0] += int(gen.extra.get("engine_calls", 0))
            return [gen]

        return Group(p, 1, run)

    return [group(p, s, pol) for p, s, pols in todo for pol in pols]
