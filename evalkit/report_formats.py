"""Renderings of a `Report`: a rich table for the terminal, GitHub-flavoured Markdown (fits $GITHUB_STEP_SUMMARY),
JUnit XML (one test case per cell; REGRESSED is a failure, UNDERPOWERED and MISSING are skipped) and JSON."""

from __future__ import annotations

import json
import math
import os
import xml.etree.ElementTree as ET
from pathlib import Path

from rich.table import Table

from evalkit.report import CellReport, Flip, Report

ICON = {"REGRESSED": "❌", "MISSING": "⚠️", "UNDERPOWERED": "❔", "IMPROVED": "📈", "OK": "✅"}
STYLE = {"REGRESSED": "bold red", "MISSING": "yellow", "UNDERPOWERED": "yellow", "IMPROVED": "bold green", "OK": "green"}


def _pct(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:.1f}%"


def _pts(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{100 * x:+.1f}"


def _ci(c: CellReport) -> str:
    return "–" if not math.isfinite(c.delta_low) else f"[{100 * c.delta_low:+.1f}, {100 * c.delta_high:+.1f}]"


def _p(x: float) -> str:
    return "–" if not math.isfinite(x) else f"{x:.3g}"


def _tokens(c: CellReport) -> str:
    if not math.isfinite(c.candidate_tokens):
        return f"{c.baseline_tokens:.0f} → –" if math.isfinite(c.baseline_tokens) else "–"
    pct = c.token_delta_pct
    rel = f" ({pct:+.0f}%)" if math.isfinite(pct) else ""
    return f"{c.baseline_tokens:.0f} → {c.candidate_tokens:.0f}{rel}"


def _ock(c: CellReport) -> str:
    b, n = c.baseline_ockscore, c.candidate_ockscore
    return f"{b:.1f} → {n:.1f}" if math.isfinite(b) and math.isfinite(n) else (f"{b:.1f} → –" if math.isfinite(b) else "–")


def _pass_k(c: CellReport) -> str:
    if not c.pass_at_k:
        return "–"
    k = max(c.pass_at_k, key=int)
    b, n = c.pass_at_k[k]
    return f"@{k}: {100 * b:.1f} → {100 * n:.1f}"


def summary_line(r: Report) -> str:
    counts = ", ".join(f"{n} {v}" for v, n in r.counts().items() if n)
    return f"{r.verdict}: {counts} (candidate {r.candidate} vs baseline {r.baseline})"


def _settings(r: Report) -> str:
    t = r.thresholds
    return (f"paired over problems; {int(round(100 * t.level))}% paired bootstrap CI ({t.resamples} resamples) and sign-flip test; "
            f"REGRESSED = drop > {100 * t.max_drop:.1f} pts that the CI and test tell from noise; "
            f"UNDERPOWERED below {t.min_problems} paired problems")


# flips --------------------------------------------------------------------------------------------------------

def _flip(f: Flip) -> str:
    return f"{f.problem_id} ({f.baseline[0]}/{f.baseline[1]} → {f.candidate[0]}/{f.candidate[1]})"


def flip_lines(r: Report, limit: int = 25) -> list[str]:
    """One line per cell with moved problems: 'bench / strategy / budget: lost N: id (1/2 → 0/2), ...; gained M: ...'.
    At most `limit` problems per list (the JSON output has them all)."""
    lines = []
    for c in r.cells:
        if not (c.lost or c.gained):
            continue
        parts = []
        for word, items in (("lost", c.lost), ("gained", c.gained)):
            if items:
                more = f", +{len(items) - limit} more" if len(items) > limit else ""
                parts.append(f"{word} {len(items)}: " + ", ".join(_flip(f) for f in items[:limit]) + more)
        lines.append(f"{c.benchmark} / {c.strategy} / {c.budget}: " + "; ".join(parts))
    return lines


# terminal -----------------------------------------------------------------------------------------------------

def rich_table(r: Report) -> Table:
    t = Table(title=f"evalkit report: {r.candidate} vs baseline {r.baseline}", caption=_settings(r), caption_justify="left")
    for col, right in (("benchmark", False), ("strategy", False), ("budget", True), ("pairs", True), ("pass@1 base → cand", True),
                       ("Δ pts", True), ("95% CI", True), ("p", True), ("pass@k", False), ("tokens/sample", False), ("verdict", False)):
        t.add_column(col, justify="right" if right else "left", no_wrap=col in ("95% CI", "tokens/sample", "pass@1 base → cand"))
    for c in r.cells:
        t.add_row(c.benchmark, c.strategy, c.budget, str(c.paired), f"{_pct(c.baseline_pass1)} → {_pct(c.candidate_pass1)}",
                  _pts(c.delta), _ci(c), _p(c.p_value), _pass_k(c), _tokens(c), f"[{STYLE[c.verdict]}]{c.verdict}[/]")
    return t


# Markdown -----------------------------------------------------------------------------------------------------

def _md_cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def markdown(r: Report, flips: bool = False) -> str:
    lines = [
        f"## {ICON[r.verdict]} evalkit report: {r.verdict}",
        "",
        f"Candidate **{_md_cell(r.candidate)}** (`{_md_cell(r.candidate_model or '?')}`) vs baseline "
        f"**{_md_cell(r.baseline)}** (`{_md_cell(r.baseline_model or '?')}`): {', '.join(f'{n} {v}' for v, n in r.counts().items() if n)}.",
        "",
        "| benchmark | strategy | budget | pairs | baseline pass@1 | candidate pass@1 | Δ pts | 95% CI | p | pass@k | tokens/sample | OckScore | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|",
    ]
    for c in r.cells:
        cells = [c.benchmark, c.strategy, c.budget, str(c.paired), _pct(c.baseline_pass1), _pct(c.candidate_pass1), _pts(c.delta),
                 _ci(c), _p(c.p_value), _pass_k(c), _tokens(c), _ock(c), f"{ICON[c.verdict]} {c.verdict}"]
        lines.append("| " + " | ".join(_md_cell(x) for x in cells) + " |")
    flagged = [c for c in r.cells if c.verdict not in ("OK",)]
    if flagged:
        lines += ["", "**Why:**", ""]
        lines += [f"- {c.benchmark} / {c.strategy} / {c.budget}: {c.verdict}: {_md_cell(c.reason)}" for c in flagged]
    if flips:
        moved = flip_lines(r)
        lines += ["", "**Problems lost and gained** (correct/samples, baseline → candidate):", ""]
        lines += [f"- {_md_cell(x)}" for x in moved] if moved else ["- none: every paired problem scored the same"]
    if r.mismatches:
        lines += ["", "**Compared despite differences (--allow-mismatch):**", ""] + [f"- {_md_cell(m)}" for m in r.mismatches]
    if r.notes:
        lines += ["", "**Notes:**", ""] + [f"- {_md_cell(n)}" for n in r.notes]
    lines += ["", f"<sub>{_md_cell(_settings(r))}</sub>", ""]
    return "\n".join(lines)


# JUnit --------------------------------------------------------------------------------------------------------

def junit_xml(r: Report) -> str:
    counts = r.counts()
    failures = counts["REGRESSED"]
    skipped = counts["UNDERPOWERED"] + counts["MISSING"]
    attrs = {"name": f"evalkit report: {r.candidate} vs {r.baseline}", "tests": str(len(r.cells)),
             "failures": str(failures), "errors": "0", "skipped": str(skipped), "time": "0"}
    root = ET.Element("testsuites", attrs)
    suite = ET.SubElement(root, "testsuite", attrs)
    props = ET.SubElement(suite, "properties")
    for k, v in (("baseline", r.baseline_source), ("candidate", r.candidate_source), ("verdict", r.verdict),
                 ("max_drop", str(r.thresholds.max_drop)), ("min_problems", str(r.thresholds.min_problems)),
                 ("level", str(r.thresholds.level))):
        ET.SubElement(props, "property", {"name": k, "value": v})
    for c in r.cells:
        case = ET.SubElement(suite, "testcase", {"classname": f"evalkit.{c.benchmark}.{c.strategy}", "name": f"budget {c.budget}", "time": "0"})
        detail = (f"pairs={c.paired} baseline={_pct(c.baseline_pass1)} candidate={_pct(c.candidate_pass1)} "
                  f"delta={_pts(c.delta)} pts CI={_ci(c)} p={_p(c.p_value)} pass@k={_pass_k(c)} tokens={_tokens(c)}")
        if c.verdict == "REGRESSED":
            ET.SubElement(case, "failure", {"type": c.verdict, "message": f"{c.verdict}: {c.reason}"}).text = detail
        elif c.verdict in ("UNDERPOWERED", "MISSING"):
            ET.SubElement(case, "skipped", {"message": f"{c.verdict}: {c.reason}"})
        ET.SubElement(case, "system-out").text = f"{c.verdict}: {c.reason}\n{detail}"
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# JSON ---------------------------------------------------------------------------------------------------------

def json_text(r: Report, strict: bool = False, flips: bool = False) -> str:
    doc = r.to_json(flips)
    doc["exit_code"] = r.exit_code(strict)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def write_text(path: Path, text: str, append: bool = False) -> None:
    """Write (or, for a job summary that other steps also write, append) without leaving a half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if append:
        with open(path, "a", encoding="utf-8") as f:
            f.write(text)
        return
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def pass_at_k_text(column: str) -> str:
    """summary.csv's pass_at_k column ("2=0.41;4=0.55") as "@2 41.0% @4 55.0%"; "-" with one sample per problem."""
    items = [kv.split("=", 1) for kv in (column or "").split(";") if "=" in kv]
    return " ".join(f"@{k} {100 * float(v):.1f}%" for k, v in items) or "-"
