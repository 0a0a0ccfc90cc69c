"""The `evalkit` command line, one module per command (cli/sweep.py, cli/offload.py, ...), all registered here on
the shared app (cli/app.py). Options are defined once in cli/options.py and shared by every command that takes
them; cli/settings.py adds --config FILE.toml, --preset NAME and the run.toml each run writes.

Command modules import cli.app, cli.options, cli.output, never this package's __init__. Heavy imports (vllm, torch,
transformers, matplotlib) happen inside commands, so `evalkit --help`, `plot` and `report` start fast. Any
EvalkitError becomes one red line on stderr and exit code 2.
"""

from __future__ import annotations

import sys

import typer

from evalkit.cli import benchmarks as _benchmarks
from evalkit.cli import calibrate as _calibrate
from evalkit.cli import demo_model as _demo_model
from evalkit.cli import grade as _grade
from evalkit.cli import offload as _offload
from evalkit.cli import plot as _plot
from evalkit.cli import rating as _rating
from evalkit.cli import report as _report
from evalkit.cli import servecheck as _servecheck
from evalkit.cli import standings as _standings
from evalkit.cli import view as _view
from evalkit.cli.app import app, console
from evalkit.cli.output import summary_table
from evalkit.cli.sweep import sweep, sweep_spec
from evalkit.errors import EvalkitError

app.command("sweep")(sweep)
app.command("benchmarks")(_benchmarks.list_benchmarks)
app.command("grade")(_grade.grade)
app.command("plot")(_plot.plot)
app.command("demo-model")(_demo_model.demo_model)
app.command("report")(_report.report)
app.command("baseline")(_report.baseline)
app.command("offload-sim")(_offload.offload_sim)
app.command("calibrate")(_calibrate.calibrate)
_servecheck.register(app)
_rating.register(app)
_standings.register(app)
_view.register(app)

__all__ = ["app", "main", "summary_table", "sweep", "sweep_spec"]


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
