"""Contest standings from the public Codeforces API, written as the files `codeforces_rating` reads.

Owns the download only: `contest.standings` (official contestants and the contest's problems), `contest.ratingChanges`
(who was rated and their pre-contest rating) and `user.ratedList` (the human rating distribution the percentile is
taken over). Each contest becomes `<out>/<contest>.json` in the standings format of `evalkit.grading.codeforces_rating`
and the distribution becomes `<out>/population.json` (a JSON list of ratings). Raw API replies are cached under
`<out>/raw/`, so a run that stopped half way (network, rate limit) resumes with the calls it had not made yet.

Codeforces publishes a limit of one call per two seconds (https://codeforces.com/apiHelp); the client waits that long
between calls (a parameter, so tests against a local replay server run fast), retries timeouts, HTTP 429 / 5xx and
"Call limit exceeded" with doubling back-off, and gives up with one line naming the contest and the command that
resumes. It never rates anything: `evalkit codeforces-rating` does.
"""

from __future__ import annotations

import json
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from evalkit.errors import EvalkitError

DEFAULT_API = "https://codeforces.com/api"
API_ENV = "EVALKIT_CODEFORCES_API"
MIN_INTERVAL = 2.0  # seconds between calls, Codeforces' published limit
POPULATION = "population.json"
RAW = "raw"


def api_url(explicit: str | None = None) -> str:
    return (explicit or os.environ.get(API_ENV) or DEFAULT_API).rstrip("/")


class _Retryable(Exception):
    """A reply worth asking again for (timeout, 429, 5xx, call limit)."""


@dataclass
class Client:
    """Calls `<base>/<method>?<params>`, at most one call per `interval` seconds, retrying with back-off."""

    base: str = DEFAULT_API
    interval: float = MIN_INTERVAL
    retries: int = 4
    backoff: float = 2.0  # first retry waits this long (at least `interval`), then doubles
    timeout: float = 120.0  # a large contest's standings (40,000 rows) take a while to arrive
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    calls: int = 0
    _last: float | None = field(default=None, repr=False)

    def call(self, method: str, **params: Any) -> Any:
        """The `result` of one API call; EvalkitError when the API answers FAILED or stays unreachable."""
        url = f"{self.base}/{method}?{urllib.parse.urlencode(params)}"
        wait = max(self.backoff, self.interval)
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                self.sleep(wait)
                wait *= 2
            try:
                return self._once(url)
            except _Retryable as e:
                last_error = str(e)
        raise _Unreachable(f"{last_error} after {self.retries + 1} tries")

    def _throttle(self) -> None:
        if self._last is not None:
            left = self._last + self.interval - self.clock()
            if left > 0:
                self.sleep(left)
        self._last = self.clock()

    def _once(self, url: str) -> Any:
        self._throttle()
        self.calls += 1
        try:
            with urllib.request.urlopen(url, timeout=self.timeout) as resp:
                body = resp.read()
        except urllib.error.HTTPError as e:
            body = e.read()
            if e.code == 429 or e.code >= 500:
                raise _Retryable(f"HTTP {e.code}") from None
            # Codeforces answers a bad request with HTTP 400 and a FAILED body naming the problem: read it below.
        except (socket.timeout, TimeoutError):
            raise _Retryable("timed out") from None
        except urllib.error.URLError as e:
            if isinstance(e.reason, (socket.timeout, TimeoutError)):
                raise _Retryable("timed out") from None
            raise _Retryable(f"network error ({e.reason})") from None
        except (ConnectionError, OSError) as e:
            raise _Retryable(f"network error ({e})") from None
        try:
            reply = json.loads(body)
        except ValueError:
            raise _Retryable("reply is not JSON") from None
        if not isinstance(reply, dict):
            raise _Retryable("reply is not a JSON object")
        if reply.get("status") == "OK":
            return reply.get("result")
        comment = str(reply.get("comment") or "no comment")
        if "limit exceeded" in comment.lower():
            raise _Retryable(f"API: {comment}")
        raise _Failed(comment)


class _Unreachable(Exception):
    pass


class _Failed(Exception):
    pass


def standings_file(contest_id: str, standings: dict[str, Any], changes: list[dict[str, Any]]) -> dict[str, Any]:
    """The `codeforces_rating` standings format: official contestants who were rated, each with their pre-contest
    rating, score and penalty; ICPC-type contests score by problems solved, the others (CF, IOI) by points."""
    contest = standings.get("contest") or {}
    kind = str(contest.get("type") or "CF").upper()
    scoring = "icpc" if kind == "ICPC" else "points"
    old = {str(c["handle"]): float(c["oldRating"]) for c in changes}
    rows = []
    for row in standings.get("rows") or []:
        party = row.get("party") or {}
        members = party.get("members") or []
        if party.get("participantType", "CONTESTANT") != "CONTESTANT" or len(members) != 1:
            continue
        handle = str(members[0].get("handle"))
        if handle not in old:
            continue  # unrated in this contest (a division above its limit, or a new account): not in the seed sum
        rows.append({"handle": handle, "rating": old[handle], "score": float(row.get("points") or 0),
                     "penalty": float(row.get("penalty") or 0), "rank": row.get("rank")})
    problems = [{"index": str(p["index"]), "points": float(p.get("points") or 1)} for p in standings.get("problems") or []]
    return {"contest_id": str(contest_id), "name": contest.get("name"), "type": kind, "scoring": scoring,
            "problems": problems, "rows": rows}


def resume_hint(contests: Iterable[str], out: Path) -> str:
    return f"evalkit codeforces-standings --contests {','.join(contests)} --out {out}"


def _cached(path: Path, fetch: Callable[[], Any]) -> Any:
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    result = fetch()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result), encoding="utf-8")
    tmp.replace(path)  # a killed run leaves no half-written cache file
    return result


def fetch_standings(contests: Iterable[str], out: Path, client: Client, population: bool = True,
                    resume: str | None = None, progress: Callable[[str], None] | None = None) -> list[Path]:
    """Write `<out>/<contest>.json` for each contest not there yet (and `population.json`); returns the files written.
    `resume` is the command a user reruns after a failure (default: the `codeforces-standings` line)."""
    ids = [str(c).strip() for c in contests if str(c).strip()]
    for c in ids:
        if not c.isdigit():
            raise EvalkitError(f"contest id {c!r} is not a number: pass --contests 2000,2001 (ids from codeforces.com/contest/ID)")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    hint = resume or resume_hint(ids, out)
    written: list[Path] = []
    for c in ids:
        target = out / f"{c}.json"
        if target.is_file():
            continue
        try:
            raw_standings = _cached(out / RAW / f"{c}.standings.json",
                                    lambda: client.call("contest.standings", contestId=c, showUnofficial="false"))
            changes = _cached(out / RAW / f"{c}.ratingChanges.json", lambda: client.call("contest.ratingChanges", contestId=c))
        except _Failed as e:
            raise EvalkitError(f"contest {c}: Codeforces API refused ({e}); check the contest id, then rerun `{hint}`") from None
        except _Unreachable as e:
            raise EvalkitError(f"contest {c}: Codeforces API unreachable ({e}); rerun `{hint}` to resume") from None
        if not changes:
            raise EvalkitError(f"contest {c} has no rating changes (unrated or not finished): drop it from --contests")
        data = standings_file(c, raw_standings, changes)
        if not data["rows"]:
            raise EvalkitError(f"contest {c}: no rated contestant in the standings: drop it from --contests")
        target.write_text(json.dumps(data), encoding="utf-8")
        written.append(target)
        if progress:
            progress(f"contest {c}: {len(data['rows'])} rated contestants -> {target}")
    pop = out / POPULATION
    if population and not pop.is_file():
        try:
            users = client.call("user.ratedList", activeOnly="true", includeRetired="false")
        except _Failed as e:
            raise EvalkitError(f"user.ratedList: Codeforces API refused ({e}); rerun `{hint}`") from None
        except _Unreachable as e:
            raise EvalkitError(f"user.ratedList: Codeforces API unreachable ({e}); rerun `{hint}` to resume") from None
        ratings = [float(u["rating"]) for u in users or [] if "rating" in u]
        if not ratings:
            raise EvalkitError(f"user.ratedList returned no rated users: rerun `{hint}` later, or pass --no-population")
        pop.write_text(json.dumps(ratings), encoding="utf-8")
        written.append(pop)
        if progress:
            progress(f"rating distribution: {len(users)} active rated users -> {pop}")
    return written
