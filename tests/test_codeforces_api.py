"""`codeforces-standings` and `codeforces-rating --fetch` against a local server that replays Codeforces API replies
in the shapes https://codeforces.com/apiHelp documents, including its failures (FAILED, HTTP 429, a timeout).
The end-to-end test checks the rating and percentile against a computation done by hand in the comments."""

from __future__ import annotations

import json
import math
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import EvalkitError
from evalkit.grading.codeforces_api import Client, fetch_standings


def ok(result):
    return 200, {"status": "OK", "result": result}


def row(handle, rank, points, penalty=0):
    return {"party": {"contestId": 0, "members": [{"handle": handle}], "participantType": "CONTESTANT", "ghost": False},
            "rank": rank, "points": points, "penalty": penalty, "successfulHackCount": 0, "unsuccessfulHackCount": 0,
            "problemResults": [{"points": 1.0, "rejectedAttemptCount": 0, "type": "FINAL"}]}


def change(contest, handle, rank, old, new):
    return {"contestId": contest, "contestName": f"Round {contest}", "handle": handle, "rank": rank,
            "ratingUpdateTimeSeconds": 1700000000, "oldRating": old, "newRating": new}


# Contest 100 (ICPC rules): two humans rated 1400; x solved 2, y solved 0. A team row and an unrated contestant
# (not in ratingChanges) must be left out of the seed sum.
STANDINGS_100 = {"contest": {"id": 100, "name": "Educational Round", "type": "ICPC", "phase": "FINISHED"},
                 "problems": [{"contestId": 100, "index": "A", "name": "a", "type": "PROGRAMMING"},
                              {"contestId": 100, "index": "B", "name": "b", "type": "PROGRAMMING"}],
                 "rows": [row("x", 1, 2, 30), row("newbie", 2, 1, 5), row("y", 3, 0),
                          {**row("team", 4, 0), "party": {"members": [{"handle": "t1"}, {"handle": "t2"}],
                                                          "participantType": "CONTESTANT"}}]}
CHANGES_100 = [change(100, "x", 1, 1400, 1450), change(100, "y", 3, 1400, 1380)]
# Contest 200 (CF rules, points): humans rated 1100 (500 points) and 1900 (1500 points).
STANDINGS_200 = {"contest": {"id": 200, "name": "Div. 2", "type": "CF", "phase": "FINISHED"},
                 "problems": [{"contestId": 200, "index": "A", "points": 500.0}, {"contestId": 200, "index": "B", "points": 1000.0}],
                 "rows": [row("hi", 1, 1500.0), row("lo", 2, 500.0)]}
CHANGES_200 = [change(200, "hi", 1, 1900, 1950), change(200, "lo", 2, 1100, 1090)]
RATED_LIST = [{"handle": h, "rating": r} for h, r in
              [("a", 1000), ("b", 1200), ("c", 1500), ("d", 1600), ("e", 1700), ("f", 2000)]]


class Replay:
    """Routes (method, contestId) to a queue of replies; the last reply repeats. 'sleep' makes the call time out."""

    def __init__(self, routes):
        self.routes = {k: list(v) for k, v in routes.items()}
        self.log: list[tuple[str, float]] = []

    def __enter__(self):
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                url = urlparse(self.path)
                method = url.path.rsplit("/", 1)[-1]
                key = (method, parse_qs(url.query).get("contestId", [None])[0])
                replay.log.append((method + ("?" + key[1] if key[1] else ""), time.monotonic()))
                queue = replay.routes.get(key) or [(400, {"status": "FAILED", "comment": f"{key}: not found"})]
                reply = queue.pop(0) if len(queue) > 1 else queue[0]
                if reply == "sleep":
                    time.sleep(1.0)
                    reply = ok([])
                code, body = reply
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/api"
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def calls(self):
        return [m for m, _ in self.log]


ROUTES = {("contest.standings", "100"): [ok(STANDINGS_100)], ("contest.ratingChanges", "100"): [ok(CHANGES_100)],
          ("contest.standings", "200"): [ok(STANDINGS_200)], ("contest.ratingChanges", "200"): [ok(CHANGES_200)],
          ("user.ratedList", None): [ok(RATED_LIST)]}


def fast(url, **kw):
    return Client(base=url, interval=0.0, backoff=0.01, timeout=kw.pop("timeout", 5.0), **kw)


def test_standings_files_keep_rated_contestants_with_pre_contest_rating(tmp_path):
    with Replay(ROUTES) as api:
        written = fetch_standings(["100", "200"], tmp_path, fast(api.url))
    assert sorted(p.name for p in written) == ["100.json", "200.json", "population.json"]
    s100 = json.loads((tmp_path / "100.json").read_text())
    assert s100["scoring"] == "icpc"
    assert [(r["handle"], r["rating"], r["score"], r["penalty"]) for r in s100["rows"]] == [("x", 1400, 2, 30), ("y", 1400, 0, 0)]
    s200 = json.loads((tmp_path / "200.json").read_text())
    assert s200["scoring"] == "points" and s200["problems"] == [{"index": "A", "points": 500.0}, {"index": "B", "points": 1000.0}]
    assert json.loads((tmp_path / "population.json").read_text()) == [1000, 1200, 1500, 1600, 1700, 2000]


def test_rerun_makes_no_call_for_cached_contests(tmp_path):
    with Replay(ROUTES) as api:
        fetch_standings(["100"], tmp_path, fast(api.url))
        first = len(api.calls())
        client = fast(api.url)
        assert fetch_standings(["100"], tmp_path, client) == [] and client.calls == 0
    assert first == 3


def test_calls_are_spaced_by_the_interval(tmp_path):
    with Replay(ROUTES) as api:
        fetch_standings(["100"], tmp_path, Client(base=api.url, interval=0.3))
    times = [t for _, t in api.log]
    assert len(times) == 3 and all(b - a >= 0.29 for a, b in zip(times, times[1:]))


def test_429_call_limit_and_timeout_are_retried(tmp_path):
    routes = {**ROUTES,
              ("contest.standings", "100"): [(429, {"status": "FAILED", "comment": "Too many requests"}), "sleep",
                                             (200, {"status": "FAILED", "comment": "Call limit exceeded"}), ok(STANDINGS_100)]}
    with Replay(routes) as api:
        fetch_standings(["100"], tmp_path, fast(api.url, timeout=0.3, retries=4), population=False)
        assert api.calls()[:4] == ["contest.standings?100"] * 4
    assert json.loads((tmp_path / "100.json").read_text())["rows"][0]["handle"] == "x"


def test_failed_reply_names_the_contest_and_the_fix(tmp_path):
    with Replay(ROUTES) as api, pytest.raises(EvalkitError, match=r"contest 999: Codeforces API refused .*not found.*rerun"):
        fetch_standings(["999"], tmp_path, fast(api.url))


def test_network_failure_resumes_where_it_stopped(tmp_path):
    down = {**ROUTES, ("contest.ratingChanges", "200"): [(503, {})]}
    with Replay(down) as api:
        with pytest.raises(EvalkitError) as err:
            fetch_standings(["100", "200"], tmp_path, fast(api.url, retries=2))
        assert api.calls().count("contest.ratingChanges?200") == 3
    msg = str(err.value)
    assert "contest 200" in msg and "HTTP 503" in msg and f"evalkit codeforces-standings --contests 100,200 --out {tmp_path}" in msg
    with Replay(ROUTES) as api:
        fetch_standings(["100", "200"], tmp_path, fast(api.url))
        # contest 100 is done and contest 200's standings reply is cached: only what was missing is asked for
        assert api.calls() == ["contest.ratingChanges?200", "user.ratedList"]


def test_cli_network_failure_is_one_line_and_exit_2(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "evalkit", "codeforces-standings", "--contests", "100", "--out",
                           str(tmp_path / "s"), "--api-url", "http://127.0.0.1:9/api", "--interval", "0", "--retries", "0"],
                          capture_output=True, text=True, timeout=120)
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert proc.returncode == 2 and len(lines) == 1, proc.stderr
    assert "contest 100: Codeforces API unreachable" in lines[0] and "--contests 100 --out" in lines[0]


def _run_with_grades(tmp_path, rows):
    run = tmp_path / "run"
    run.mkdir()
    (run / "grades.jsonl").write_text("".join(json.dumps({
        "benchmark": "codeforces", "problem_id": pid, "sample": s, "strategy": "elastic", "budget": b,
        "correct": c, "status": "accepted" if c else "wrong_answer", "extracted": None, "detail": ""}) + "\n"
        for pid, s, b, c in rows))
    return run


def test_standings_then_rating_match_the_hand_computation(tmp_path):
    # Graded at 2k (the largest budget; the 512 and 1k rows must be ignored):
    # contest 100 (ICPC): A first try, B after one failed attempt -> 2 solved, penalty 10. The replay gives x 2 solved
    #   with penalty 10 too, so the model ties x (places 1..2, rank 1.5) and beats y, among ratings [1400, 1400]:
    #   1 + 2/(1 + 10^((r - 1400)/400)) = 1.5 -> 10^((r-1400)/400) = 3 -> r = 1400 + 400 log10(3) = 1590.85.
    # contest 200 (points): A failed, B first try -> 1000 points, between hi (1500, rated 1900) and lo (500, rated
    #   1100) -> rank 2: 1 + 1/(1 + 10^((r-1100)/400)) + 1/(1 + 10^((r-1900)/400)) = 2 -> r = 1500 by symmetry.
    # Mean 1545.42; population.json [1000, 1200, 1500, 1600, 1700, 2000]: 3 of 6 below -> percentile 50.0 %.
    rows = [("100_A", 0, "2k", True), ("100_B", 0, "2k", False), ("100_B", 1, "2k", True),
            ("200_A", 0, "2k", False), ("200_B", 0, "2k", True),
            ("100_A", 0, "512", False), ("200_B", 0, "1k", False)]
    run = _run_with_grades(tmp_path, rows)
    standings = json.loads(json.dumps(STANDINGS_100))
    standings["rows"][0]["penalty"] = 10
    routes = {**ROUTES, ("contest.standings", "100"): [ok(standings)]}
    out_dir = tmp_path / "standings"
    with Replay(routes) as api:
        cli = CliRunner().invoke(app, ["codeforces-standings", "--contests", "100,200", "--out", str(out_dir),
                                       "--api-url", api.url, "--interval", "0"])
        assert cli.exit_code == 0, cli.output
    result = CliRunner().invoke(app, ["codeforces-rating", str(run), "--standings", str(out_dir)], terminal_width=200)
    assert result.exit_code == 0, result.output
    r100 = 1400 + 400 * math.log10(3)
    mean = (r100 + 1500) / 2
    assert "budget 2k" in result.output
    assert (f"rating {mean:.0f} over 2 contests, percentile 50.0% (among 6 rated users in population.json)"
            in " ".join(result.output.split()))


def test_rating_fetch_downloads_what_is_missing(tmp_path):
    run = _run_with_grades(tmp_path, [("200_B", 0, "1k", True), ("200_A", 0, "1k", False)])
    out_dir = tmp_path / "standings"
    with Replay(ROUTES) as api:
        result = CliRunner().invoke(app, ["codeforces-rating", str(run), "--standings", str(out_dir), "--fetch",
                                          "--api-url", api.url, "--interval", "0"], terminal_width=200)
        assert result.exit_code == 0, result.output
        assert "contest.standings?100" not in api.calls()  # only the run's contests
    assert "rating 1500 over 1 contests" in result.output


def test_problem_id_map_renames_rows_without_contest_ids(tmp_path):
    run = _run_with_grades(tmp_path, [("codeelo_0001", 0, "1k", True), ("codeelo_0002", 0, "1k", False)])
    ids = tmp_path / "ids.json"
    ids.write_text(json.dumps({"codeelo_0001": "200B", "codeelo_0002": "200_A"}))
    out_dir = tmp_path / "standings"
    with Replay(ROUTES) as api:
        result = CliRunner().invoke(app, ["codeforces-rating", str(run), "--standings", str(out_dir), "--fetch",
                                          "--problem-ids", str(ids), "--api-url", api.url, "--interval", "0"],
                                    terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "rating 1500 over 1 contests" in result.output
