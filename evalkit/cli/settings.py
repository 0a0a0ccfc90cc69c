"""Settings from files: `--config FILE.toml`, `--preset NAME` (evalkit/benchmarks/presets/NAME.toml) and the
`run.toml` every run writes, merged under what the command line gave.

Order, last wins: the option's default, the preset, the config file, flags typed (or set by environment). Keys are
option names as in `--help` without the dashes (`solution-budget` or `solution_budget`); comma-separated options
also take TOML arrays. An unknown key, a wrong type or a missing preset is one line and exit 2. Light imports only.
"""

from __future__ import annotations

import difflib
import json
import typing
from pathlib import Path
from typing import Any

from evalkit.cli.options import INVOCATION, OPTIONS, PRESETS, Opt, preset_names
from evalkit.errors import EvalkitError

RUN_TOML = "run.toml"
# A file someone hands you must not switch the sandbox off: that stays a decision typed on the command line.
COMMAND_LINE_ONLY = ("allow_unsandboxed",)


def preset_path(name: str) -> Path:
    path = PRESETS / f"{name}.toml"
    if not path.is_file():
        close = difflib.get_close_matches(name, preset_names(), n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"use one of: {', '.join(preset_names())}"
        raise EvalkitError(f"no preset {name!r}: {hint}")
    return path


def key_of(opt: Opt) -> str:
    """The config key of an option: its first long flag without dashes (`--out` -> out, `--json` -> json)."""
    flag = next(f for f in opt.flags[0].split("/") if f.startswith("--"))
    return flag[2:].replace("-", "_")


def read_toml(path: Path, what: str) -> dict[str, Any]:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    try:
        with open(path, "rb") as f:
            return tomllib.load(f)
    except FileNotFoundError:
        raise EvalkitError(f"{what} {path} does not exist: check the path") from None
    except OSError as e:
        raise EvalkitError(f"cannot read {what} {path} ({e.strerror})") from None
    except tomllib.TOMLDecodeError as e:
        raise EvalkitError(f"{what} {path} is not valid TOML ({e}): fix that line") from None


def file_settings(path: Path, what: str, command: str, names: tuple[str, ...]) -> dict[str, Any]:
    """The options a TOML file sets, by Python name, checked against the options `command` takes."""
    doc = read_toml(path, what)
    by_key = {key_of(OPTIONS[n]): n for n in names if n not in INVOCATION} | {
        n: n for n in names if n not in INVOCATION}
    out: dict[str, Any] = {}
    for key, value in doc.items():
        norm = key.replace("-", "_")
        if norm == "preset" and "preset" in names:
            out["preset"] = _checked(OPTIONS["preset"], value, path, key)
            continue
        if norm in COMMAND_LINE_ONLY:
            raise EvalkitError(f"{path}: {key!r} can only be given on the command line (--{key.replace('_', '-')}): "
                               f"remove it from the file")
        if norm not in by_key:
            close = difflib.get_close_matches(norm, list(by_key), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"`evalkit {command} --help` lists the options"
            raise EvalkitError(f"{path}: unknown key {key!r} for evalkit {command}: {hint}")
        name = by_key[norm]
        out[name] = _checked(OPTIONS[name], value, path, key)
    return out


def _checked(opt: Opt, value: Any, path: Path, key: str) -> Any:
    """A TOML value as the command would have received it from the flag, or one line saying what type it needs."""
    kind = opt.type
    args = typing.get_args(kind)
    optional = type(None) in args
    base = next((a for a in args if a is not type(None)), kind) if optional else kind
    origin = typing.get_origin(base)

    def bad(need: str) -> EvalkitError:
        return EvalkitError(f"{path}: {key!r} must be {need}, not {json.dumps(value, default=str)}")

    if origin in (list, typing.List):
        if isinstance(value, str):
            return [value]
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return list(value)
        raise bad("a string or an array of strings")
    if base is bool:
        if not isinstance(value, bool):
            raise bad("true or false")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad("an integer")
        lo, hi = opt.extra.get("min"), opt.extra.get("max")
        if (lo is not None and value < lo) or (hi is not None and value > hi):
            raise bad(f"an integer from {lo if lo is not None else '...'} to {hi if hi is not None else '...'}")
        return value
    if base is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad("a number")
        return float(value)
    if base is Path:
        if not isinstance(value, str):
            raise bad("a path (a string)")
        return Path(value)
    # text options: budgets may be numbers (1024 or "1k"), comma-separated ones arrays
    if isinstance(value, list) and opt.listy and all(isinstance(v, (str, int, float)) and not isinstance(v, bool)
                                                     for v in value):
        return ",".join(str(v) for v in value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise bad("a string" + (" or an array" if opt.listy else ""))
    return value


def merge_settings(command: str, given: dict[str, Any], defaults: dict[str, Any], typed: set[str]) -> dict[str, Any]:
    """defaults < preset < config file < typed flags, for the options of one command invocation."""
    names = tuple(defaults)
    config = given.get("config")
    from_config = file_settings(Path(config), "config", command, names) if config is not None else {}
    preset = given.get("preset") if "preset" in typed or "preset" not in from_config else from_config["preset"]
    from_preset = file_settings(preset_path(preset), f"preset {preset!r}", command, names) if preset else {}
    merged = dict(given)
    for name in names:
        if name in typed:
            continue
        if name in from_config:
            merged[name] = from_config[name]
        elif name in from_preset:
            merged[name] = from_preset[name]
    if "preset" in merged:
        merged["preset"] = preset
    return merged


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)  # a JSON string is a TOML basic string


def settings_toml(command: str, values: dict[str, Any], names: tuple[str, ...]) -> str:
    """run.toml: every setting of the run as resolved (defaults, preset, config, flags), rerunnable with --config."""
    lines = [f"# evalkit {command}: the settings this run was made with (defaults, preset, config file and flags,",
             f"# resolved). Rerun or resume it with: evalkit {command} --config <this file>", ""]
    for name in names:
        if name in INVOCATION or name in COMMAND_LINE_ONLY:
            continue
        value = values.get(name)
        if value is None:
            continue  # TOML has no null: an absent key means the option's default (None)
        lines.append(f"{key_of(OPTIONS[name])} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"
