"""`evalkit report`: pair a candidate run with a baseline per cell and per problem, and say whether it got worse.

Cells are benchmark x strategy x budget label (thinking budgets, offload ratios: whatever labels the rows carry).
Within a cell, problems present in both runs are paired; a problem's score is its fraction of correct samples.
The accuracy delta is the mean of per-problem score differences, with a paired bootstrap CI (problems resampled
as pairs) and a sign-flip permutation p-value. Verdicts:

- REGRESSED     delta < -max_drop, the CI excludes 0 and p < 1 - level
- IMPROVED      delta > +max_drop, the CI excludes 0 and p < 1 - level
- UNDERPOWERED  fewer than min_problems pairs, or a drop beyond max_drop that the data cannot tell from noise
- OK            anything else (no drop beyond max_drop that is distinguishable from run-to-run noise)
- MISSING       a baseline cell the candidate does not have

The run verdict is the worst cell verdict in the order REGRESSED > MISSING > UNDERPOWERED > IMPROVED > OK.
Reads files only: no model, no engine.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np

from evalkit.errors import EvalkitError
from evalkit.metrics import ockscore
from evalkit.outcomes import CellOutcomes, Identity, RunOutcomes, _natural
from evalkit.stats import mean_pass_at_k, paired_bootstrap_delta, pass_at_k_ks, sign_flip_p_value
from evalkit.summary import budget_sort_key

CellVerdict = Literal["REGRESSED", "IMPROVED", "OK", "UNDERPOWERED", "MISSING"]
RUN_ORDER: tuple[CellVerdict, ...] = ("REGRESSED", "MISSING", "UNDERPOWERED", "IMPROVED", "OK")


@dataclass(frozen=True)
class Thresholds:
    max_drop: float = 0.02  # accuracy (0-1): drops smaller than this are tolerated even when real
    min_problems: int = 10  # fewer paired problems than this cannot be judged
    level: float = 0.95
    resamples: int = 5000
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_drop < 1.0:
            raise EvalkitError(f"--max-drop {self.max_drop} must be an accuracy fraction in [0, 1): e.g. 0.02 for 2 points")
        if self.min_problems < 1:
            raise EvalkitError(f"--min-problems must be >= 1 (got {self.min_problems})")
        if not 0.5 < self.level < 1.0:
            raise EvalkitError(f"--level {self.level} must be in (0.5, 1): e.g. 0.95")
        if self.resamples < 100:
            raise EvalkitError(f"--resamples must be >= 100 (got {self.resamples})")


@dataclass(frozen=True)
class Flip:
    """A paired problem whose score moved between the runs: correct/total samples in each."""

    problem_id: str
    baseline: tuple[int, int]
    candidate: tuple[int, int]

    @property
    def delta(self) -> float:
        return self.candidate[0] / self.candidate[1] - self.baseline[0] / self.baseline[1]


@dataclass(frozen=True)
class CellReport:
    benchmark: str
    strategy: str
    budget: str
    thinking_budget: int | None
    paired: int  # problems in both runs
    baseline_only: int
    candidate_only: int
    baseline_pass1: float
    candidate_pass1: float
    delta: float  # candidate - baseline, accuracy fraction
    delta_low: float
    delta_high: float
    p_value: float
    baseline_tokens: float  # mean tokens per sample, averaged over paired problems
    candidate_tokens: float
    token_delta: float
    token_delta_low: float
    token_delta_high: float
    pass_at_k: dict[str, tuple[float, float]]  # "k" -> (baseline, candidate) for k > 1 every paired problem supports
    verdict: CellVerdict
    reason: str
    # Paired problems the candidate solves less often (lost) or more often (gained) than the baseline, largest
    # moves first: the problems to read when a cell moved (`report --show-flips`).
    lost: tuple[Flip, ...] = ()
    gained: tuple[Flip, ...] = ()

    @property
    def token_delta_pct(self) -> float:
        return 100 * self.token_delta / self.baseline_tokens if self.baseline_tokens else float("nan")

    # OckScore (evalkit.metrics) of each side over the paired problems; tokens are per-problem means averaged,
    # which is summary.csv's per-sample mean when every problem has the same number of samples.
    @property
    def baseline_ockscore(self) -> float:
        return _ock(self.baseline_pass1, self.baseline_tokens)

    @property
    def candidate_ockscore(self) -> float:
        return _ock(self.candidate_pass1, self.candidate_tokens)


def _ock(pass1: float, tokens: float) -> float:
    return ockscore(pass1, tokens) if np.isfinite(pass1) and np.isfinite(tokens) else float("nan")


@dataclass(frozen=True)
class Report:
    baseline: str
    candidate: str
    baseline_source: str
    candidate_source: str
    baseline_model: str
    candidate_model: str
    thresholds: Thresholds
    cells: tuple[CellReport, ...]
    verdict: CellVerdict
    mismatches: tuple[str, ...] = ()  # comparability differences the user allowed
    notes: tuple[str, ...] = ()

    def counts(self) -> dict[str, int]:
        return {v: sum(c.verdict == v for c in self.cells) for v in RUN_ORDER}

    def exit_code(self, strict: bool = False) -> int:
        """1 on any REGRESSED cell (with strict, also MISSING or UNDERPOWERED), else 0."""
        bad = {"REGRESSED", "MISSING", "UNDERPOWERED"} if strict else {"REGRESSED"}
        return int(any(c.verdict in bad for c in self.cells))

    def to_json(self, flips: bool = False) -> dict[str, Any]:
        """The report as JSON; `flips` adds each cell's lost and gained problems."""
        doc = asdict(self)
        doc["counts"] = self.counts()
        for c, row in zip(self.cells, doc["cells"]):
            row["token_delta_pct"] = c.token_delta_pct
            row["baseline_ockscore"], row["candidate_ockscore"] = c.baseline_ockscore, c.candidate_ockscore
            if flips:
                row["lost"] = [_flip_json(f) for f in c.lost]
                row["gained"] = [_flip_json(f) for f in c.gained]
            else:
                row.pop("lost"), row.pop("gained")
        return _finite(doc)


def _flip_json(f: Flip) -> dict[str, Any]:
    return {"problem_id": f.problem_id, "baseline_correct": f.baseline[0], "baseline_total": f.baseline[1],
            "candidate_correct": f.candidate[0], "candidate_total": f.candidate[1], "delta": f.delta}


def flips(ids: list[str], base: dict[str, Any], cand: dict[str, Any]) -> tuple[tuple[Flip, ...], tuple[Flip, ...]]:
    """(lost, gained) among paired problem ids, from per-problem outcomes (correct, total); largest moves first."""
    moved = [Flip(i, (base[i].correct, base[i].total), (cand[i].correct, cand[i].total)) for i in ids]
    lost = sorted((f for f in moved if f.delta < 0), key=lambda f: (f.delta, _natural(f.problem_id)))
    gained = sorted((f for f in moved if f.delta > 0), key=lambda f: (-f.delta, _natural(f.problem_id)))
    return tuple(lost), tuple(gained)


def _finite(x: Any) -> Any:
    """NaN is not JSON: write null."""
    if isinstance(x, float):
        return x if np.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_finite(v) for v in x]
    return x


# comparability ------------------------------------------------------------------------------------------------

def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 60 else text[:57] + "..."


def identity_mismatches(base: Identity, cand: Identity, benchmarks: set[str]) -> list[str]:
    """Human-readable differences that make scores of the two runs incomparable, for the benchmarks compared."""
    out = []
    for b in sorted(benchmarks):
        db, dc = base.datasets.get(b), cand.datasets.get(b)
        if db is not None and dc is not None and db != dc:
            keys = sorted(k for k in set(db) | set(dc) if db.get(k) != dc.get(k))
            out.append(f"{b} dataset differs ({', '.join(f'{k} {_short(db.get(k))} vs {_short(dc.get(k))}' for k in keys)})")
        pb, pc = base.prompts.get(b), cand.prompts.get(b)
        if pb is not None and pc is not None and pb != pc:
            out.append(f"{b} prompt differs ({_short(pb)} vs {_short(pc)})")
    keys = sorted(k for k in set(base.sampling) | set(cand.sampling) if base.sampling.get(k) != cand.sampling.get(k))
    if keys:
        out.append("sampling differs (" + ", ".join(f"{k} {base.sampling.get(k)} vs {cand.sampling.get(k)}" for k in keys) + ")")
    if base.solution_budget is not None and cand.solution_budget is not None and base.solution_budget != cand.solution_budget:
        out.append(f"solution budget differs ({base.solution_budget} vs {cand.solution_budget})")
    return out


def close_mismatch(base: Identity, cand: Identity) -> str:
    """'' when both runs forced the same text at the cut, else the difference in words."""
    if base.close_text == cand.close_text:
        return ""
    return f"close text differs ({_short(repr(base.close_text))} vs {_short(repr(cand.close_text))})"


# verdicts -----------------------------------------------------------------------------------------------------

def decide(n: int, delta: float, low: float, high: float, p: float, t: Thresholds) -> tuple[CellVerdict, str]:
    alpha = 1 - t.level
    pts = f"{100 * delta:+.1f} pts"
    ci = f"{int(round(100 * t.level))}% CI [{100 * low:+.1f}, {100 * high:+.1f}]"
    if n == 0:
        return "UNDERPOWERED", "no problem appears in both runs"
    if n < t.min_problems:
        return "UNDERPOWERED", f"only {n} paired problems (< {t.min_problems}): too few to tell {pts} from noise"
    if delta < -t.max_drop:
        if high < 0 and p < alpha:
            return "REGRESSED", f"{pts} is below -{100 * t.max_drop:.1f} pts and {ci} excludes 0 (p={p:.3g})"
        return "UNDERPOWERED", (f"{pts} is below -{100 * t.max_drop:.1f} pts but cannot be told from noise "
                                f"({ci}, p={p:.3g}): add problems or samples")
    if delta > t.max_drop and low > 0 and p < alpha:
        return "IMPROVED", f"{pts} with {ci} above 0 (p={p:.3g})"
    if high < 0 and p < alpha:
        return "OK", f"{pts}: a real drop, within the tolerated {100 * t.max_drop:.1f} pts"
    return "OK", f"{pts}, {ci}"


def compare_cell(base: CellOutcomes, cand: CellOutcomes, t: Thresholds) -> CellReport:
    ids = sorted(set(base.problems) & set(cand.problems))
    b = [base.problems[i] for i in ids]
    c = [cand.problems[i] for i in ids]
    bs, cs = [o.score for o in b], [o.score for o in c]
    acc = paired_bootstrap_delta(bs, cs, resamples=t.resamples, seed=t.seed, level=t.level)
    tok = paired_bootstrap_delta([o.mean_tokens for o in b], [o.mean_tokens for o in c], resamples=t.resamples, seed=t.seed, level=t.level)
    p = sign_flip_p_value(np.asarray(cs) - np.asarray(bs), seed=t.seed) if ids else float("nan")
    pak: dict[str, tuple[float, float]] = {}
    if ids:
        for k in pass_at_k_ks(min(o.total for o in b + c)):
            if k > 1:
                pak[str(k)] = (mean_pass_at_k([(o.total, o.correct) for o in b], k), mean_pass_at_k([(o.total, o.correct) for o in c], k))
    verdict, reason = decide(len(ids), acc.mean, acc.low, acc.high, p, t)
    lost, gained = flips(ids, base.problems, cand.problems)
    nan = float("nan")
    return CellReport(
        benchmark=base.benchmark, strategy=base.strategy, budget=base.budget, thinking_budget=base.thinking_budget,
        paired=len(ids), baseline_only=len(set(base.problems) - set(cand.problems)),
        candidate_only=len(set(cand.problems) - set(base.problems)),
        baseline_pass1=float(np.mean(bs)) if ids else nan, candidate_pass1=float(np.mean(cs)) if ids else nan,
        delta=acc.mean, delta_low=acc.low, delta_high=acc.high, p_value=p,
        baseline_tokens=float(np.mean([o.mean_tokens for o in b])) if ids else nan,
        candidate_tokens=float(np.mean([o.mean_tokens for o in c])) if ids else nan,
        token_delta=tok.mean, token_delta_low=tok.low, token_delta_high=tok.high,
        pass_at_k=pak, verdict=verdict, reason=reason, lost=lost, gained=gained,
    )


def _missing(cell: CellOutcomes) -> CellReport:
    nan = float("nan")
    probs = list(cell.problems.values())
    return CellReport(
        benchmark=cell.benchmark, strategy=cell.strategy, budget=cell.budget, thinking_budget=cell.thinking_budget,
        paired=0, baseline_only=len(probs), candidate_only=0,
        baseline_pass1=float(np.mean([o.score for o in probs])) if probs else nan, candidate_pass1=nan,
        delta=nan, delta_low=nan, delta_high=nan, p_value=nan,
        baseline_tokens=float(np.mean([o.mean_tokens for o in probs])) if probs else nan, candidate_tokens=nan,
        token_delta=nan, token_delta_low=nan, token_delta_high=nan, pass_at_k={},
        verdict="MISSING", reason="in the baseline, absent from the candidate run",
    )


def build_report(base: RunOutcomes, cand: RunOutcomes, t: Thresholds = Thresholds(), allow_mismatch: bool = False,
                 allow_different_close: bool = False) -> Report:
    common = set(base.cells) & set(cand.cells)
    if not common:
        raise EvalkitError(
            f"{base.source} and {cand.source} share no benchmark x strategy x budget cell "
            f"(baseline: {_cells_text(base)}; candidate: {_cells_text(cand)}): sweep the candidate with the baseline's benchmarks and budgets"
        )
    mismatches = identity_mismatches(base.identity, cand.identity, {k[0] for k in common})
    # A different close text changes every forced row on purpose (it is what such a comparison studies), so it has
    # its own switch: --allow-mismatch for data, prompt or sampling does not cover it.
    close = close_mismatch(base.identity, cand.identity)
    if close and not allow_different_close:
        raise EvalkitError(f"runs are not comparable: {close}: rerun the candidate with the baseline's --close-text, "
                           "or pass --allow-different-close")
    if mismatches and not allow_mismatch:
        raise EvalkitError(
            "runs are not comparable: " + "; ".join(mismatches)
            + ": rerun the candidate with the baseline's data, prompt and sampling, or pass --allow-mismatch"
        )
    mismatches += [close] if close else []
    cells = [compare_cell(base.cells[k], cand.cells[k], t) for k in common]
    cells += [_missing(base.cells[k]) for k in set(base.cells) - common]
    cells.sort(key=lambda c: (c.benchmark, c.strategy, budget_sort_key(c.budget, c.thinking_budget)))
    notes = []
    extra = sorted(set(cand.cells) - set(base.cells))
    if extra:
        notes.append(f"{len(extra)} candidate cell(s) have no baseline and are not judged: " + ", ".join("/".join(k) for k in extra))
    for o in (base, cand):
        if o.ungraded:
            notes.append(f"{o.source}: {o.ungraded} generation(s) without a verdict were left out (run `evalkit grade {o.source}`)")
    unpaired = sum(c.baseline_only + c.candidate_only for c in cells if c.verdict != "MISSING")
    if unpaired:
        notes.append(f"{unpaired} problem(s) appear in only one run of their cell and are not paired")
    verdict = next(v for v in RUN_ORDER if v == "OK" or any(c.verdict == v for c in cells))
    return Report(
        baseline=base.label, candidate=cand.label, baseline_source=base.source, candidate_source=cand.source,
        baseline_model=base.identity.model, candidate_model=cand.identity.model, thresholds=t, cells=tuple(cells),
        verdict=verdict, mismatches=tuple(mismatches), notes=tuple(notes),
    )


def _cells_text(o: RunOutcomes, limit: int = 6) -> str:
    keys = ["/".join(c.key) for c in o.sorted_cells()]
    return ", ".join(keys[:limit]) + (f" (+{len(keys) - limit} more)" if len(keys) > limit else "") if keys else "none"
