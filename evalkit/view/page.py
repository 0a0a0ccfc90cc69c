"""The viewer page: run identity, plots and summary as static HTML, the samples as embedded JSON, one file.

Everything the page needs is inside it (CSS, JS, plots as data: URIs), so it opens from disk or a CI artifact
with no server and nothing fetched. The template (`page.html`, package data) holds the CSS and the JS; this
module fills its @MARKERS@ in one pass, so text from a run can never be read as a marker.
"""

from __future__ import annotations

import base64
import html
import json
import re
from importlib import resources
from pathlib import Path
from typing import Any

from evalkit.store import RunStore, SUMMARY
from evalkit.view.data import ViewData

# summary.csv column -> header; the rest of summary.csv stays in the file.
SUMMARY_COLUMNS = (("benchmark", "benchmark"), ("strategy", "strategy"), ("budget", "budget"),
                   ("problems", "problems"), ("samples", "samples"), ("pass1", "pass@1"), ("ci", "95% CI"),
                   ("mean_thinking_tokens", "thinking"), ("mean_solution_tokens", "solution"),
                   ("mean_total_tokens", "tokens"), ("forced_rate", "forced"), ("no_answer", "no answer"),
                   ("timeout", "timeout"), ("errors", "errors"))


def script_json(value: Any) -> str:
    """JSON safe inside <script type="application/json">: '<' as \\u003c, so no text can close the tag."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def render_page(view: ViewData, run_dirs: list[Path]) -> str:
    template = resources.files("evalkit.view").joinpath("page.html").read_text(encoding="utf-8")
    names = [p.name for p in run_dirs]
    parts = {
        "TITLE": html.escape("evalkit view: " + " vs ".join(names)),
        "HEADING": html.escape(" vs ".join(names)),
        "RUNS": "\n".join(_run_section(p, i, len(run_dirs)) for i, p in enumerate(run_dirs)),
        "NOTES": "".join(f"<p class=note>{html.escape(n)}</p>" for n in view.notes),
        "DATA": script_json(view.data),
        "TEXTS": script_json(view.texts),
    }
    return re.sub(r"@([A-Z]+)@", lambda m: parts[m.group(1)], template)


def _run_section(run_dir: Path, index: int, count: int) -> str:
    store = RunStore(run_dir)
    info = store.read_run()
    label = f"run {chr(ord('A') + index)}: " if count > 1 else ""
    return (f"<section class=run><h2>{html.escape(label + run_dir.name)}</h2>"
            f"<div class=runcols><div>{_identity(info)}</div><div>{_summary(store)}</div></div>"
            f"{_plots(store.plots_dir)}</section>")


def _identity(info: dict[str, Any]) -> str:
    spec = info.get("spec") or {}
    engine = spec.get("engine") or {}
    sampling = spec.get("sampling") or {}
    versions = info.get("versions") or {}
    datasets = info.get("datasets") or {}
    items = [
        ("model", engine.get("model") or spec.get("small_model") or spec.get("model")),
        ("engine", engine.get("kind")),
        ("benchmarks", ", ".join(spec.get("benchmarks") or ())),
        ("strategies", ", ".join(spec["strategy"]) if isinstance(spec.get("strategy"), list) else spec.get("strategy")),
        ("budgets", ", ".join(map(str, spec.get("budgets") or ())) + (" + unconstrained" if spec.get("unconstrained") else "")),
        ("solution budget", spec.get("solution_budget")),
        ("samples", spec.get("samples")),
        ("sampling", ", ".join(f"{k}={v}" for k, v in sampling.items())),
        ("seed", spec.get("seed")),
        ("data", "; ".join(f"{b}: " + ", ".join(f"{k}={v}" for k, v in d.items() if k in ("source", "revision", "sha256", "count"))
                          for b, d in datasets.items() if isinstance(d, dict))),
        ("created", info.get("created")),
        ("updated", info.get("updated")),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("command", info.get("command")),
    ]
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                   for k, v in items if v not in (None, "", ()))
    raw = html.escape(json.dumps(info, indent=2, sort_keys=True, default=str))
    return f"<table class=kv>{rows}</table><details><summary>run.json</summary><pre>{raw}</pre></details>"


def _summary(store: RunStore) -> str:
    path = store.path(SUMMARY)
    if not path.exists():
        return f"<p class=note>no {SUMMARY} yet: <code>evalkit grade {html.escape(str(store.root))}</code> writes it</p>"
    from evalkit.summary import read_summary

    head = "".join(f"<th{' class=l' if k in ('benchmark', 'strategy') else ''}>{h}</th>" for k, h in SUMMARY_COLUMNS)
    body = []
    for r in read_summary(path):
        cells = []
        for k, _ in SUMMARY_COLUMNS:
            if k == "ci":
                v = f"{_pct(r.get('pass1_low'))}–{_pct(r.get('pass1_high'))}"
            elif k in ("pass1", "forced_rate"):
                v = _pct(r.get(k), 1 if k == "pass1" else 0)
            elif k.startswith("mean_"):
                v = f"{float(r[k]):.0f}" if r.get(k) else ""
            else:
                v = r.get(k, "")
            cells.append(f"<td{' class=l' if k in ('benchmark', 'strategy') else ''}>{html.escape(str(v))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='grid summary'><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _pct(v: str | None, digits: int = 0) -> str:
    return f"{100 * float(v):.{digits}f}%" if v not in (None, "") else ""


def _plots(folder: Path) -> str:
    """Each figure once: the SVG when there is one (sharp at any zoom), else the PNG, as a data: URI image (an
    inline <svg> would share element ids with the other figures on the page)."""
    if not folder.is_dir():
        return ""
    figures: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        if p.suffix.lower() in (".svg", ".png") and (p.stem not in figures or p.suffix.lower() == ".svg"):
            figures[p.stem] = p
    out = []
    for stem, p in sorted(figures.items()):
        mime = "image/svg+xml" if p.suffix.lower() == ".svg" else "image/png"
        uri = f"data:{mime};base64,{base64.b64encode(p.read_bytes()).decode('ascii')}"
        out.append(f"<figure><img alt='{html.escape(stem)}' src='{uri}'><figcaption>{html.escape(p.name)}</figcaption></figure>")
    return f"<div class=plots>{''.join(out)}</div>" if out else ""
