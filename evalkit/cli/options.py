"""evalkit's option vocabulary: every command-line option defined once (flags, type, default, help, checks),
and the groups several commands take whole (ENGINE, BENCHMARK, ...). `command.takes` turns names from here into a
command's typer signature, so `sweep` and `offload-sim` cannot drift apart. Light imports only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, List, Optional

import typer


@dataclass(frozen=True)
class Opt:
    """One option: `name` is the Python name and the config-file key; `flags` as typed on the command line."""
    name: str
    flags: tuple[str, ...]
    type: Any
    default: Any
    help: str
    panel: str
    listy: bool = False  # comma-separated text: a config file may give a TOML array instead
    extra: dict[str, Any] = field(default_factory=dict)  # min, max, envvar, autocompletion

    def typer_option(self, default: Any = ...) -> Any:
        value = self.default if default is ... else default
        extra = dict(self.extra)
        if self.type is not bool:  # short metavars keep --help's option column narrow in 80 columns
            extra.setdefault("metavar", self.metavar())
        return typer.Option(value, *self.flags, help=self.help, rich_help_panel=self.panel,
                            show_default=value not in (None, [], ""), **extra)

    def metavar(self) -> str:
        text = str(self.type)
        if "Path" in text:
            return "PATH"
        if "int" in text:
            return "N"
        if "float" in text:
            return "X"
        return "LIST" if self.listy else "TEXT"


def _complete_benchmarks(incomplete: str) -> list[str]:
    from evalkit.benchmarks import REGISTRY

    head, _, last = incomplete.rpartition(",")
    return [f"{head},{n}" if head else n for n in REGISTRY if n.startswith(last)]


def _complete_strategies(incomplete: str) -> list[str]:
    from evalkit.config import STRATEGIES

    head, _, last = incomplete.rpartition(",")
    return [f"{head},{n}" if head else n for n in STRATEGIES if n.startswith(last)]


PRESETS = Path(__file__).resolve().parents[1] / "benchmarks" / "presets"


def preset_names() -> list[str]:
    return sorted(p.stem for p in PRESETS.glob("*.toml"))


def _complete_presets(incomplete: str) -> list[str]:
    return [n for n in preset_names() if n.startswith(incomplete)]


def complete_runs(incomplete: str) -> list[str]:
    """Run directories under ./results (any folder with a run.json), for the commands that read runs."""
    found = sorted(str(p.parent) for p in Path("results").glob("*/run.json"))
    return [r for r in found if r.startswith(incomplete)] or [r for r in found if Path(r).name.startswith(incomplete)]


MODEL, BENCH, BUDGET, SAMPLING, RUN, ENGINE_P, GRADING, OFFLOAD, CONFIG = (
    "Model", "Benchmarks", "Budgets", "Sampling", "Run", "Engine", "Grading", "Offload", "Config")

_ALL = [
    # config ------------------------------------------------------------------------------------------------------
    Opt("config", ("--config",), Optional[Path], None, "TOML file with any of this command's options as keys (flags "
        "override it); a run's own run.toml reruns it.", CONFIG),
    Opt("preset", ("--preset",), Optional[str], None, "Settings of a published evaluation: e1-math, e1-code, s1, l1, "
        "ci-demo (see `evalkit benchmarks --presets`); --config and flags override it.", CONFIG,
        extra={"autocompletion": _complete_presets}),
    Opt("dry_run", ("--dry-run",), bool, False, "Print what would be generated, what is already on disk, a token "
        "upper bound (and a time estimate with --profile); start nothing.", CONFIG),
    # model and engine --------------------------------------------------------------------------------------------
    Opt("model", ("--model", "-m"), str, "smollm2-demo", "Hub id, local path, or smollm2-demo / smollm2-reasoner "
        "(built on first use).", MODEL),
    Opt("small", ("--small",), str, "smollm2-demo", "Small model: hub id, local path or smollm2-demo.", MODEL),
    Opt("big", ("--big",), str, "smollm2-demo", "Big model (same tokenizer as --small).", MODEL),
    Opt("engine", ("--engine",), str, "vllm", "vllm (in-process), openai (servers at --endpoint), hf "
        "(transformers).", ENGINE_P),
    Opt("endpoint", ("--endpoint",), str, "", "openai engine: server URL(s), comma-separated replicas share the load.",
        ENGINE_P, listy=True),
    Opt("big_endpoint", ("--big-endpoint",), str, "", "openai engine: big model's server URL(s) (default: --endpoint).",
        ENGINE_P, listy=True),
    Opt("tokenizer", ("--tokenizer",), Optional[str], None, "openai/hf engines: load the tokenizer from here "
        "(default: the model).", ENGINE_P),
    Opt("concurrency", ("--concurrency",), Optional[int], None, "openai: requests in flight per endpoint (64); hf: "
        "batch size (16).", ENGINE_P),
    Opt("retries", ("--retries",), int, 5, "openai: retries per request on connection errors and 5xx (with backoff).",
        ENGINE_P),
    Opt("request_timeout", ("--request-timeout",), float, 600.0, "openai: seconds to wait for one completion.", ENGINE_P),
    Opt("device", ("--device",), Optional[str], None, "hf engine: cpu, cuda, cuda:1 (default: cuda if available).",
        ENGINE_P),
    Opt("max_model_len", ("--max-model-len",), Optional[int], None, "Context limit (default: the model's).", ENGINE_P),
    Opt("gpu_memory_utilization", ("--gpu-memory-utilization",), Optional[float], None, "vLLM memory share (offload-sim: "
        "per model, 0.45 each by default).", ENGINE_P),
    Opt("tensor_parallel_size", ("--tensor-parallel-size", "--tp"), int, 1, "vLLM tensor parallel size.", ENGINE_P),
    Opt("pipeline_parallel_size", ("--pipeline-parallel-size", "--pp"), int, 1, "vLLM pipeline parallel size.", ENGINE_P),
    Opt("data_parallel_size", ("--data-parallel-size", "--dp"), int, 1, "vLLM data parallel size.", ENGINE_P),
    Opt("reasoning_parser", ("--reasoning-parser",), Optional[str], None, "vllm engine, native strategy: vLLM's "
        "reasoning parser (default deepseek_r1).", ENGINE_P),
    Opt("max_inflight", ("--max-inflight",), Optional[int], None, "Requests in flight at most (default: as many as the "
        "engines can schedule).", ENGINE_P),
    # benchmarks --------------------------------------------------------------------------------------------------
    Opt("benchmarks", ("--benchmarks", "-b"), str, "arith", "Comma-separated benchmark names (see `evalkit "
        "benchmarks`).", BENCH, listy=True, extra={"autocompletion": _complete_benchmarks}),
    Opt("benchmark_card", ("--benchmark-card",), List[str], [], "A custom benchmark's TOML card (repeatable); its name "
        "then works in --benchmarks.", BENCH),
    Opt("limit", ("--limit",), Optional[int], None, "Use only the first N problems of each benchmark.", BENCH),
    Opt("prompt", ("--prompt",), List[str], [], "Prompt template with {problem}; 'bench=TEMPLATE' for one benchmark.",
        BENCH),
    Opt("data_dir", ("--data-dir",), Optional[str], None, "Folder with local benchmark files (else the Hugging Face hub).",
        BENCH, extra={"envvar": "EVALKIT_DATA_DIR"}),
    Opt("arith_difficulty", ("--arith-difficulty",), int, 1, "Built-in arith benchmark: 1 (easy) to 5.", BENCH,
        extra={"min": 1, "max": 5}),
    Opt("arith_count", ("--arith-count",), int, 50, "Built-in arith benchmark: number of problems.", BENCH,
        extra={"min": 1}),
    Opt("arith_seed", ("--arith-seed",), int, 0, "Built-in arith benchmark: generator seed.", BENCH),
    Opt("since", ("--since",), Optional[str], None, "livecodebench/codeforces: contests on or after YYYY-MM-DD.", BENCH),
    Opt("until", ("--until",), Optional[str], None, "livecodebench/codeforces: contests on or before YYYY-MM-DD.", BENCH),
    Opt("lcb_version", ("--lcb-version",), Optional[str], None, "livecodebench release: release_v1..release_v6, "
        "release_latest, v1..v6.", BENCH),
    Opt("codeforces_file", ("--codeforces-file",), Optional[str], None, "codeforces: which file under "
        "<data-dir>/codeforces/ (or a path), e.g. codeelo_examples_only.jsonl (the CodeElo set).", BENCH),
    Opt("codeforces_ids", ("--codeforces-ids",), Optional[str], None, "codeforces: JSON list of problem ids aligned "
        "with the file's rows (rllm's metadata_cf.json), so runs can be rated.", BENCH),
    # budgets -----------------------------------------------------------------------------------------------------
    Opt("budgets", ("--budgets",), str, "1k,2k,4k", "Thinking budgets t: 512, 1k (=1024), 2k, ...", BUDGET, listy=True),
    Opt("solution_budget", ("--solution-budget",), str, "1k", "Solution budget s after </think>.", BUDGET),
    Opt("thinking_budget", ("--thinking-budget",), str, "1k", "Thinking tokens before </think> is forced.", BUDGET),
    Opt("unconstrained", ("--unconstrained",), bool, False, "Add a point limited only by the model's length.", BUDGET),
    Opt("strategy", ("--strategy",), str, "elastic", "Budget strategies, comma-separated: elastic (thinking t + "
        "solution s), truncate (t total), s1 (budget forcing), prompt / prompt-max (L1: 'Think for N tokens.'), native "
        "(the engine's own thinking budget).", BUDGET, listy=True, extra={"autocompletion": _complete_strategies}),
    Opt("share_thinking", ("--share-thinking/--no-share-thinking",), bool, True, "One thinking pass cut at every "
        "budget, or each budget from scratch.", BUDGET),
    Opt("close_text", ("--close-text",), str, "</think>", "elastic, s1, native: text forced at the cut; presets: qwen, "
        "sglang. Must end in </think>.", BUDGET),
    Opt("min_thinking", ("--min-thinking",), str, "0", "s1: append 'Wait' instead of ending thinking before this many "
        "tokens.", BUDGET),
    Opt("prompt_cap", ("--prompt-cap",), float, 2.0, "prompt strategies: cap the output at this multiple of N.", BUDGET),
    # sampling ----------------------------------------------------------------------------------------------------
    Opt("samples", ("--samples", "-n"), int, 1, "Samples per problem (Elastic Reasoning: 16 for math, 8 for code).",
        SAMPLING, extra={"min": 1}),
    Opt("temperature", ("--temperature",), float, 0.6, "Sampling temperature (0 = greedy).", SAMPLING),
    Opt("top_p", ("--top-p",), float, 0.95, "Nucleus sampling mass.", SAMPLING),
    Opt("seed", ("--seed",), int, 0, "Base seed; each sample and phase derives its own.", SAMPLING),
    # offload -----------------------------------------------------------------------------------------------------
    Opt("from_run", ("--from-run",), Optional[Path], None, "Re-simulate latency of an offload run from its files (no "
        "model).", OFFLOAD, extra={"autocompletion": complete_runs}),
    Opt("profile", ("--profile",), List[str], [], "Cost profile: splitreason-a6000 or a JSON file from `evalkit "
        "calibrate`; repeat to merge. With --dry-run: the time estimate's profile.", "Cost"),
    Opt("small_cost", ("--small-cost",), Optional[str], None, "Profile entry for the small model (splitreason-a6000: "
        "1.5B).", "Cost"),
    Opt("big_cost", ("--big-cost",), Optional[str], None, "Profile entry for the big model (splitreason-a6000: 32B).",
        "Cost"),
    Opt("policies", ("--policies",), str, "none,learned,random,big", "Offload policies: none, learned, random, step "
        "(whole reasoning steps, split at blank lines), big.", OFFLOAD, listy=True),
    Opt("ratios", ("--ratios",), str, "0.1,0.25,0.5", "random and step policies: shares of big-model tokens asked for.",
        OFFLOAD, listy=True),
    Opt("exact_ratio", ("--exact-ratio",), bool, False, "random and step: lay spans out so the measured big-model share "
        "matches each ratio (labels random-exact-R, step-exact-R).", OFFLOAD),
    Opt("small_params", ("--small-params",), Optional[str], None, "Small model's parameters for the cost column (e.g. "
        "1.5B; default: counted from its safetensors).", "Cost"),
    Opt("big_params", ("--big-params",), Optional[str], None, "Big model's parameters for the cost column (e.g. 32B).",
        "Cost"),
    Opt("span", ("--span",), int, 32, "random policy: tokens per span drawn for the big model.", OFFLOAD),
    Opt("span_cap", ("--span-cap",), int, 512, "learned policy: most tokens the big model writes per span.", OFFLOAD),
    Opt("open_tag", ("--open-tag",), str, "<bigmodel>", "learned policy: the small model hands over after this.",
        OFFLOAD),
    Opt("close_tag", ("--close-tag",), str, "</bigmodel>", "learned policy: the big model hands back after this.",
        OFFLOAD),
    # run and grading ---------------------------------------------------------------------------------------------
    Opt("name", ("--name",), Optional[str], None, "Run name; default <model>_<benchmarks>. Same name = resume.", RUN),
    Opt("out_root", ("--out",), str, "results", "Root folder for run directories.", RUN),
    Opt("grade_workers", ("--grade-workers",), Optional[int], None, "Grading processes beside generation (default: "
        "the CPUs the engines leave free).", GRADING),
    Opt("grade_timeout", ("--grade-timeout",), float, 10.0, "Seconds per math answer before it counts as timeout.",
        GRADING),
    Opt("allow_unsandboxed", ("--allow-unsandboxed",), bool, False, "Grade code even where the sandbox cannot isolate "
        "programs (no root, no unprivileged user namespaces): model-written code then runs with your network and "
        "files in reach. Recorded in run.json.", GRADING),
    # calibrate ---------------------------------------------------------------------------------------------------
    Opt("out_file", ("--out",), Optional[Path], None, "Profile JSON to write (default results/profiles/<model>.json).",
        RUN),
    Opt("prompt_tokens", ("--prompt-tokens",), int, 1024, "Prompt length for the prefill measurement.", "Measure"),
    Opt("decode_tokens", ("--decode-tokens",), int, 128, "Tokens generated per decode measurement.", "Measure"),
    Opt("context_tokens", ("--context-tokens",), int, 4096, "Context for the decode-slowdown measurement.", "Measure"),
    Opt("repeats", ("--repeats",), int, 3, "Measurements per figure (the median is kept).", "Measure"),
    # report ------------------------------------------------------------------------------------------------------
    Opt("max_drop", ("--max-drop",), float, 0.02, "Tolerated accuracy drop as a fraction (0.02 = 2 points).", "Verdict"),
    Opt("min_problems", ("--min-problems",), int, 10, "Cells with fewer paired problems are UNDERPOWERED.", "Verdict"),
    Opt("level", ("--level",), float, 0.95, "Confidence level of the paired bootstrap CI.", "Verdict"),
    Opt("resamples", ("--resamples",), int, 5000, "Bootstrap resamples.", "Verdict"),
    Opt("bootstrap_seed", ("--seed",), int, 0, "Bootstrap seed (the report is deterministic for a given seed).",
        "Verdict"),
    Opt("allow_mismatch", ("--allow-mismatch",), bool, False, "Compare even if dataset revision, prompt or sampling "
        "differ.", "Verdict"),
    Opt("allow_different_close", ("--allow-different-close",), bool, False, "Compare even if the runs forced different "
        "--close-text at the cut.", "Verdict"),
    Opt("strict", ("--strict",), bool, False, "Also exit 1 on UNDERPOWERED or MISSING cells.", "Verdict"),
    Opt("by", ("--by",), Optional[str], None, "Judge each difficulty group apart: level, difficulty, rating_band or "
        "year (cells named 'math500 level=3').", "Verdict"),
    Opt("markdown_path", ("--markdown",), Optional[Path], None, "Write Markdown (appends when FILE is "
        "$GITHUB_STEP_SUMMARY).", "Output"),
    Opt("junit_path", ("--junit",), Optional[Path], None, "Write JUnit XML: one test case per cell.", "Output"),
    Opt("json_path", ("--json",), Optional[Path], None, "Write the full report as JSON.", "Output"),
    Opt("show_flips", ("--show-flips",), bool, False, "List, per cell, the problems lost and gained (also in "
        "--markdown and --json).", "Output"),
    Opt("as_json", ("--json",), bool, False, "Print the final summary as JSON on stdout (nothing else there).", RUN),
    Opt("verbose", ("--verbose", "-v"), bool, False, "Stream the engine's own log here instead of <run>/engine.log.",
        RUN),
]
OPTIONS: dict[str, Opt] = {o.name: o for o in _ALL}

# Option groups several commands take whole. offload-sim takes ENGINE and BENCHMARK like sweep (a test compares).
ENGINE = ("engine", "endpoint", "tokenizer", "concurrency", "retries", "request_timeout", "device", "max_model_len",
          "gpu_memory_utilization", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size",
          "reasoning_parser", "max_inflight")
BENCHMARK = ("benchmarks", "benchmark_card", "limit", "prompt", "data_dir", "arith_difficulty", "arith_count",
             "arith_seed", "since", "until", "lcb_version", "codeforces_file", "codeforces_ids")
SAMPLE = ("samples", "temperature", "top_p", "seed")
RUN_OPTS = ("name", "out_root", "grade_workers", "grade_timeout", "allow_unsandboxed", "verbose")
CONFIG_OPTS = ("config", "preset")
# Options about this invocation rather than the run: never written to run.toml, never read from a config.
INVOCATION = ("config", "preset", "dry_run", "as_json", "verbose", "from_run")
