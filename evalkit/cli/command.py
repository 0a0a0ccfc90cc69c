"""`takes(...)`: a command written as `fn(**options)` gets the vocabulary options it names as its typer signature,
and, when it takes --config/--preset, their settings merged under what the command line gave.

A command is a function of keyword arguments; `@takes("model", *BENCHMARK, *ENGINE, ...)` writes its signature from
cli/options.py, so the same name is the same flag, type, help and default in every command. Light imports only.
"""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

import typer

from evalkit.cli.options import OPTIONS, Opt
from evalkit.cli.settings import merge_settings


def takes(*names: str, defaults: dict[str, Any] | None = None,
          help: dict[str, str] | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorate `fn(**options)` into a typer command taking the vocabulary options `names` (in that order) after the
    parameters `fn` declares itself (arguments and options of its own). `defaults` and `help` adjust one option for
    this command. When `config`/`preset` are among `names`, their settings are merged under the command line's."""
    defaults, help = defaults or {}, help or {}
    unknown = [n for n in names if n not in OPTIONS]
    if unknown:
        raise KeyError(f"not in the option vocabulary: {unknown}")

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        own_params = [p for p in inspect.signature(fn, eval_str=True).parameters.values()
                      if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in names]
        params, annotations = list(own_params), {p.name: p.annotation for p in own_params}
        for n in names:
            o = OPTIONS[n]
            if n in help:
                o = Opt(o.name, o.flags, o.type, o.default, help[n], o.panel, o.listy, o.extra)
            params.append(inspect.Parameter(n, inspect.Parameter.KEYWORD_ONLY,
                                            default=o.typer_option(defaults.get(n, ...)), annotation=o.type))
            annotations[n] = o.type
        merged_defaults = {n: defaults.get(n, OPTIONS[n].default) for n in names}
        # typer hands its click context to a parameter annotated typer.Context: it tells typed flags from defaults.
        params.append(inspect.Parameter("evalkit_ctx", inspect.Parameter.KEYWORD_ONLY, default=None,
                                        annotation=typer.Context))
        annotations["evalkit_ctx"] = typer.Context

        @functools.wraps(fn)
        def command(evalkit_ctx: Any = None, **given: Any) -> Any:
            if "config" in names or "preset" in names:
                given = merge_settings(command_name(fn), given, merged_defaults, _from_command_line(evalkit_ctx, names))
            return fn(**given)

        command.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        command.__annotations__ = {**annotations, "return": None}
        del command.__wrapped__  # typer must read the signature above, not fn's
        return command

    return wrap


def command_name(fn: Callable[..., Any]) -> str:
    """`offload_sim` -> `offload-sim`: the command's name as typed, for error lines."""
    return fn.__name__.removesuffix("_cmd").replace("_", "-")


def _from_command_line(ctx: Any, names: tuple[str, ...]) -> set[str]:
    """The option names the user typed (or set through an environment variable) in this invocation."""
    if ctx is None:
        return set(names)  # called from Python: every value given counts as given
    typed = set()
    for n in names:
        source = ctx.get_parameter_source(n)
        if source is not None and source.name in ("COMMANDLINE", "ENVIRONMENT"):
            typed.add(n)
    return typed
