"""--config FILE.toml, --preset NAME, run.toml, and one option vocabulary shared by the commands.

No engine starts here: `evalkit.sweep.run_sweep` is replaced by a recorder that keeps the SweepSpec the command
built and writes run.json and run.toml the way the real one does. The real run from a run.toml is in
tests/test_cli_config_engine.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.cli.options import BENCHMARK, ENGINE, OPTIONS, preset_names
from evalkit.cli.settings import file_settings, settings_toml
from evalkit.cli.sweep import SWEEP_OPTIONS

runner = CliRunner()


@pytest.fixture
def recorded(monkeypatch, tmp_path):
    """Run `evalkit sweep ...` in process, keep the spec instead of starting an engine."""
    import importlib

    from evalkit.runinfo import run_info
    from evalkit.store import RunStore

    specs = []

    def fake_run_sweep(spec, console=None, engine=None, allow_unsandboxed=False, engine_log=None, settings=None):
        specs.append(spec)
        store = RunStore(spec.run_dir)
        store.write_run(run_info(spec, None, {}, None, False))
        if settings:
            store.path(settings[0]).write_text(settings[1])
        raise SystemExit(0)  # the real one would now start the engine

    # `evalkit.sweep` the attribute is the Python API's function; the module is what the command imports from.
    monkeypatch.setattr(importlib.import_module("evalkit.sweep"), "run_sweep", fake_run_sweep)
    monkeypatch.chdir(tmp_path)

    def run(*args: str):
        res = runner.invoke(app, ["sweep", *args])
        assert res.exit_code == 0, res.output
        return specs[-1]

    return run


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "evalkit", *args], capture_output=True, text=True, cwd=cwd,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
                               "COLUMNS": "200" if "--dry-run" not in args else "80"})


def settings_of(spec) -> dict:
    return json.loads(json.dumps(spec.to_json()))


def test_config_and_flags_give_the_same_spec_and_run_toml_reruns_it(recorded, tmp_path):
    flags = ["--model", "smollm2-reasoner", "--benchmarks", "arith,math500", "--budgets", "8,16,1k",
             "--solution-budget", "16", "--samples", "3", "--temperature", "0.2", "--top-p", "0.9", "--limit", "7",
             "--strategy", "elastic,truncate", "--no-share-thinking", "--arith-difficulty", "2", "--prompt",
             "arith=Q: {problem}", "--engine", "openai", "--endpoint", "http://a:1,http://b:2", "--retries", "2",
             "--name", "same"]
    from_flags = settings_of(recorded(*flags))
    (tmp_path / "c.toml").write_text(
        'model = "smollm2-reasoner"\nbenchmarks = ["arith", "math500"]\nbudgets = [8, 16, "1k"]\n'
        'solution-budget = 16\nsamples = 3\ntemperature = 0.2\ntop_p = 0.9\nlimit = 7\n'
        'strategy = "elastic,truncate"\nshare-thinking = false\narith-difficulty = 2\nprompt = "arith=Q: {problem}"\n'
        'engine = "openai"\nendpoint = ["http://a:1", "http://b:2"]\nretries = 2\nname = "same"\n')
    from_config = settings_of(recorded("--config", "c.toml"))
    assert from_config == from_flags
    run_toml = tmp_path / "results" / "same" / "run.toml"
    assert run_toml.exists()
    assert settings_of(recorded("--config", str(run_toml))) == from_flags
    info = json.loads((tmp_path / "results" / "same" / "run.json").read_text())
    assert info["spec"] == from_flags


def test_flags_override_the_config_which_overrides_the_preset(recorded, tmp_path):
    (tmp_path / "c.toml").write_text('preset = "e1-math"\nsamples = 4\nbenchmarks = "arith"\n')
    spec = recorded("--config", "c.toml", "--temperature", "0.3")
    assert spec.samples == 4  # config over preset (16)
    assert spec.sampling.temperature == 0.3  # flag over preset (0.6)
    assert spec.sampling.top_p == 0.95  # the preset's
    assert spec.budgets == (512, 1024, 2048, 3072) and spec.unconstrained
    spec = recorded("--preset", "ci-demo", "--samples", "2")
    assert (spec.engine.model, spec.samples, spec.limit, spec.budgets) == ("smollm2-reasoner", 2, 30, (8, 16, 32))
    assert spec.benchmark_options["difficulty"] == 2


# The published figures each preset must carry, written here from the sources its comment cites.
SOURCES = {
    # Elastic Reasoning (arXiv 2505.05315): 16 samples, T 0.6, top-p 0.95, s = 1k, t = 0.5k..3k, AIME/MATH500/AMC,
    # unconstrained at 32k.
    "e1-math": {"samples": 16, "temperature": 0.6, "top_p": 0.95, "budgets": "512,1k,2k,3k", "solution_budget": "1k",
                "benchmarks": "aime24,math500,amc23", "strategy": "elastic", "unconstrained": True,
                "max_model_len": 32768},
    # Elastic Reasoning's code table: t = 1k..4k, s = 1k; Codeforces 8 samples; LCB release_v5, Aug 2024 - Jan 2025.
    "e1-code": {"samples": 8, "temperature": 0.6, "top_p": 0.95, "budgets": "1k,2k,3k,4k", "solution_budget": "1k",
                "benchmarks": "livecodebench,codeforces", "lcb_version": "release_v5", "since": "2024-08-01",
                "until": "2025-01-31", "codeforces_file": "codeelo_examples_only.jsonl", "max_model_len": 65536},
    # s1 (arXiv 2501.19393): caps 500..16000, greedy, bare question, AIME24 + MATH500, 32k.
    "s1": {"strategy": "s1", "budgets": "500,1000,2000,4000,8000,16000", "temperature": 0.0, "samples": 1,
           "prompt": ["{problem}"], "benchmarks": "aime24,math500", "max_model_len": 32768},
    # L1 (arXiv 2503.04697): 512/1024/2048/3600, 16 samples, T 0.6, top-p 0.95, output cap 2 x N.
    "l1": {"strategy": "prompt,prompt-max", "budgets": "512,1024,2048,3600", "samples": 16, "temperature": 0.6,
           "top_p": 0.95, "prompt_cap": 2.0},
    # The README's CI job.
    "ci-demo": {"model": "smollm2-reasoner", "benchmarks": "arith", "arith_difficulty": 2, "budgets": "8,16,32",
                "solution_budget": "16", "temperature": 0.0, "limit": 30},
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_presets_carry_their_sources_figures(name):
    from evalkit.cli.options import PRESETS

    assert set(preset_names()) == set(SOURCES)
    path = PRESETS / f"{name}.toml"
    text = path.read_text()
    assert text.startswith("#") and ("arXiv" in text or "README" in text), "each preset cites its source"
    got = file_settings(path, "preset", "sweep", SWEEP_OPTIONS)
    for key, want in SOURCES[name].items():
        assert got[key] == want, (name, key)


def test_the_readme_quick_start_and_ci_job_run_the_ci_demo_preset(recorded):
    import shlex

    root = Path(__file__).resolve().parents[1]
    quick = next(line for line in (root / "README.md").read_text().splitlines()
                 if "evalkit sweep" in line and "install.sh" in line)
    args = shlex.split(quick.split("evalkit sweep", 1)[1])
    from_quick = settings_of(recorded(*args))
    assert settings_of(recorded("--preset", "ci-demo")) == from_quick
    assert "--preset ci-demo" in (root / "docs" / "github-actions-example.yml").read_text()


@pytest.mark.parametrize("content,message", [
    ("sample = 3\n", "unknown key 'sample' for evalkit sweep: did you mean 'samples'?"),
    ('samples = "3"\n', "'samples' must be an integer, not \"3\""),
    ("temperature = true\n", "'temperature' must be a number"),
    ("share-thinking = 1\n", "'share-thinking' must be true or false"),
    ("policies = \"none\"\n", "unknown key 'policies' for evalkit sweep"),
    ("arith-difficulty = 9\n", "'arith-difficulty' must be an integer from 1 to 5"),
    ("allow-unsandboxed = true\n", "can only be given on the command line"),
    ("samples = [\n", "is not valid TOML"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, content, message):
    (tmp_path / "bad.toml").write_text(content)
    res = cli("sweep", "--config", "bad.toml", "--out", str(tmp_path / "r"), cwd=tmp_path)
    assert res.returncode == 2, res.stderr
    lines = [line for line in res.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and message in lines[0], res.stderr
    assert not (tmp_path / "r").exists()


def test_unknown_preset_and_missing_config_exit_2(tmp_path):
    res = cli("sweep", "--preset", "e1-maths", cwd=tmp_path)
    assert res.returncode == 2 and "no preset 'e1-maths': did you mean 'e1-math'?" in res.stderr
    res = cli("offload-sim", "--config", "nope.toml", cwd=tmp_path)
    assert res.returncode == 2 and "config nope.toml does not exist" in res.stderr


def _flags(command: str) -> dict[str, set[str]]:
    click_cmd = typer.main.get_command(app).commands[command]  # type: ignore[attr-defined]
    return {p.name: set(p.opts) | set(p.secondary_opts) for p in click_cmd.params}


def test_offload_sim_takes_every_engine_and_benchmark_option_of_sweep():
    sweep, offload = _flags("sweep"), _flags("offload-sim")
    shared = [n for n in sweep if n in ENGINE or n in BENCHMARK]
    assert len(shared) == len(ENGINE) + len(BENCHMARK)
    missing = [n for n in shared if offload.get(n) != sweep[n]]
    assert not missing, f"offload-sim lacks or spells differently: {missing}"
    for flag in ("--concurrency", "--retries", "--request-timeout", "--tokenizer", "--pp", "--dp", "--since",
                 "--until", "--lcb-version"):
        assert any(flag in f for f in offload.values()), flag


def test_offload_config_builds_the_engine_options(tmp_path, monkeypatch):
    import evalkit.offload_run as offload_mod

    seen = []

    def fake(spec, console=None, engines=None, allow_unsandboxed=False, engine_log=None, settings=None):
        seen.append((spec, settings))
        raise SystemExit(0)

    monkeypatch.setattr(offload_mod, "run_offload_sweep", fake)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "o.toml").write_text('engine = "openai"\nendpoint = "http://s:1"\nbig-endpoint = "http://b:2"\n'
                                     'concurrency = 3\nretries = 1\nrequest-timeout = 5.0\ntokenizer = "tok"\n'
                                     'lcb-version = "v5"\nsince = "2024-08-01"\npolicies = ["none", "big"]\n')
    res = runner.invoke(app, ["offload-sim", "--config", "o.toml", "--pp", "2"])
    assert res.exit_code == 0, res.output
    spec, settings = seen[-1]
    assert spec.engine.endpoints == ("http://s:1",) and spec.big.endpoints == ("http://b:2",)
    assert (spec.engine.concurrency, spec.engine.retries, spec.engine.request_timeout, spec.engine.tokenizer) == (
        3, 1, 5.0, "tok")
    assert spec.engine.pipeline_parallel_size == 2 and spec.big.pipeline_parallel_size == 2
    assert spec.benchmark_options["lcb_version"] == "v5" and spec.benchmark_options["since"] == "2024-08-01"
    assert spec.policies == ("none", "big")
    assert settings[0] == "run.toml" and 'policies = "none,big"' in settings[1]


def test_run_toml_holds_settings_only():
    values = {n: OPTIONS[n].default for n in SWEEP_OPTIONS}
    values.update(dry_run=True, as_json=True, verbose=True, allow_unsandboxed=True, config=Path("x.toml"))
    text = settings_toml("sweep", values, SWEEP_OPTIONS)
    keys = [line.split(" = ")[0] for line in text.splitlines() if " = " in line and not line.startswith("#")]
    for invocation in ("dry_run", "json", "verbose", "allow_unsandboxed", "config", "preset"):
        assert invocation not in keys
    assert "budgets" in keys and "out" in keys and "share_thinking" in keys


def test_e1_math_dry_run_prints_the_papers_plan_and_starts_nothing(tmp_path):
    data = Path(__file__).resolve().parent / "fixtures" / "data"
    res = cli("sweep", "--preset", "e1-math", "--dry-run", "--data-dir", str(data), cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stdout.split())  # rich wraps at 80 columns
    for want in ("preset e1-math", "16 per problem", "temperature 0.6", "top-p 0.95",
                 "elastic: thinking t = 512, 1k, 2k, 3k + unconstrained; solution s = 1k",
                 "prompt aime24 {problem} Let's think step by step and output the final answer within \\boxed{}.",
                 "math500", "amc23", "nothing was started"):
        assert want in text, want
    assert max(len(line) for line in res.stdout.splitlines()) <= 80
    assert not (tmp_path / "results").exists()
    assert "starting engine" not in res.stderr and "building" not in res.stderr


def test_offload_dry_run_with_a_profile_estimates_time(tmp_path):
    res = cli("offload-sim", "--dry-run", "--limit", "3", "--policies", "none,big", "--profile", "splitreason-a6000",
              cwd=tmp_path)
    assert res.returncode == 0, res.stderr
    text = " ".join(res.stdout.split())
    assert "policies none, big" in text and "time (splitreason-a6000" in text and "nothing was started" in text
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("words,want,unwanted", [
    ("evalkit sweep --benchmarks ma", "math500", "aime24"),
    ("evalkit sweep --benchmarks aime24,li", "aime24,livecodebench", "math500"),
    ("evalkit sweep --strategy ela", "elastic", "truncate"),
    ("evalkit offload-sim --preset e1", "e1-math", "s1"),
    ("evalkit grade results/r", "results/run-a", "results/zz-other"),
])
def test_shell_completion(tmp_path, monkeypatch, words, want, unwanted):
    for name in ("run-a", "other"):
        (tmp_path / "results" / name).mkdir(parents=True)
        (tmp_path / "results" / name / "run.json").write_text("{}")
    (tmp_path / "results" / "other").rename(tmp_path / "results" / "zz-other")
    monkeypatch.chdir(tmp_path)
    env = {"_EVALKIT_COMPLETE": "complete_bash", "COMP_WORDS": words, "COMP_CWORD": str(len(words.split()) - 1)}
    res = runner.invoke(app, [], prog_name="evalkit", env=env)
    offered = res.output.split()
    assert want in offered, res.output
    assert unwanted not in offered


def test_a_card_from_the_command_line_is_listed_planned_and_kept_in_the_spec(tmp_path, recorded):
    rows = [{"id": f"s{i}", "question": f"What is {i} + 1?", "answer": str(i + 1)} for i in range(5)]
    (tmp_path / "clicard.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (tmp_path / "clicard.toml").write_text('name = "clicard"\nkind = "math"\ndescription = "five sums"\n'
                                          '[source]\npath = "clicard.jsonl"\n[fields]\nproblem = "question"\n'
                                          'answer = "answer"\n')
    listed = cli("benchmarks", "--benchmark-card", "clicard.toml", "--json", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    card = next(r for r in json.loads(listed.stdout) if r["name"] == "clicard")
    assert card["problems"] == 5 and card["source"] == f"card {tmp_path / 'clicard.toml'}"
    plan = cli("sweep", "--benchmark-card", "clicard.toml", "-b", "clicard", "--budgets", "8,16", "--dry-run",
               cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr
    row = next(line.split() for line in plan.stdout.splitlines() if line.startswith("clicard "))
    assert row[:6] == ["clicard", "elastic", "5", "1", "2", "10"]  # 5 problems x 1 sample x 2 budgets
    (tmp_path / "c.toml").write_text('benchmark-card = "clicard.toml"\nbenchmarks = "clicard"\n')
    from evalkit.benchmarks import REGISTRY

    try:
        spec = recorded("--config", "c.toml")  # in this process: the card joins the registry
        assert spec.benchmarks == ("clicard",) and spec.benchmark_cards == (str(tmp_path / "clicard.toml"),)
    finally:
        REGISTRY.pop("clicard", None)
