"""The viewer page in headless chromium: it loads with a clean console, filters change what is listed, a sample
opens with its thinking and the forced `</think>` marked, and two runs list their flips.

Skipped (with the reason) where chromium, chromedriver or selenium is missing; EVALKIT_REQUIRE_BROWSER=1 (set by
.ci/run) turns the skip into a failure. Chromium is heavy: run this file under the heavy-work lock.
"""

from __future__ import annotations

import os
import time

import pytest

from evalkit.view import write_view
from tests.view_runs import browser_missing, chrome, plant_run, read_rows

_missing = browser_missing()
if _missing and os.environ.get("EVALKIT_REQUIRE_BROWSER") == "1":
    raise RuntimeError(f"EVALKIT_REQUIRE_BROWSER=1 but {_missing}")
pytestmark = pytest.mark.skipif(bool(_missing), reason=_missing or "")

A_SOLVES = lambda b, i, s, st, t: i < 6  # noqa: E731
B_SOLVES = lambda b, i, s, st, t: i % 2 == 0  # noqa: E731  (b loses 1, 3, 5 and gains 6, 8 at each budget)


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("view")
    a = plant_run(root, "a", benchmarks=("math500", "aime24"), problems=10, samples=1, strategies=("elastic", "truncate"),
                  budgets=(16, 64), correct=A_SOLVES)
    b = plant_run(root, "b", benchmarks=("math500", "aime24"), problems=10, samples=1, strategies=("elastic", "truncate"),
                  budgets=(16, 64), correct=B_SOLVES, seed=1)
    html = write_view([a, b], root / "view.html")
    driver = chrome()
    driver.get(html.as_uri())
    yield driver, read_rows(a, "generations.jsonl") + read_rows(b, "generations.jsonl")
    driver.quit()


def _count(driver) -> int:
    return int(driver.find_element("id", "count").text.split(" of ")[0].replace(",", ""))


def _select(driver, element_id: str, value: str) -> None:
    from selenium.webdriver.support.ui import Select

    Select(driver.find_element("id", element_id)).select_by_value(value)


def test_loads_with_clean_console(page):
    driver, gens = page
    assert driver.execute_script("return window.evalkitView && window.evalkitView.ready") > 0
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []
    assert _count(driver) == len(gens) == 160
    assert len(driver.find_elements("css selector", "#list .row")) > 10  # rendered lazily, but the first screen is there


def test_filters_change_the_visible_count(page):
    driver, gens = page
    _select(driver, "f-forced", "1")
    assert _count(driver) == sum(g["forced"] for g in gens) < len(gens)
    _select(driver, "f-forced", "")
    _select(driver, "f-bench", str(driver.execute_script("return JSON.parse(document.getElementById('data').textContent).labels.bench.indexOf('aime24')")))
    assert _count(driver) == 80
    box = driver.find_element("id", "q")
    box.send_keys("problem 7 of")  # problem text, not the id
    deadline = time.time() + 5
    while _count(driver) != 8 and time.time() < deadline:  # the search box waits 150 ms after typing
        time.sleep(0.05)
    assert _count(driver) == 8  # aime24 problem 7: 2 runs x 2 strategies x 2 budgets
    box.clear()
    driver.execute_script("document.getElementById('q').dispatchEvent(new Event('input'))")
    _select(driver, "f-bench", "")
    while _count(driver) != 160 and time.time() < deadline + 5:
        time.sleep(0.05)
    assert _count(driver) == 160


def test_sample_opens_with_thinking_and_forced_mark(page):
    driver, gens = page
    _select(driver, "f-forced", "1")
    row = driver.find_element("css selector", "#list .row")
    problem = row.find_elements("css selector", "span")[2].text
    row.click()
    thinking = driver.find_element("id", "detail-thinking")
    forced = [g for g in gens if g["forced"] and g["problem_id"] == problem]
    assert thinking.text.startswith(forced[0]["thinking_text"][:40])
    assert thinking.find_elements("css selector", ".think-forced")  # the `</think>` evalkit added, marked
    gold = driver.find_element("id", "d-gold").text
    assert gold == str(int(problem.split("-")[1]) * 3 + 1)
    assert driver.find_element("id", "d-extracted").text
    assert "lattice points" in driver.find_element("id", "d-problem").text
    driver.find_element("tag name", "body").send_keys("j")  # the next listed sample opens
    rows = driver.find_elements("css selector", "#list .row")
    assert "sel" in rows[1].get_attribute("class") and "sel" not in rows[0].get_attribute("class")
    _select(driver, "f-forced", "")
    errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    assert errors == []


def test_two_runs_list_their_flips(page):
    driver, _ = page
    rows = driver.find_elements("css selector", "#flips tbody tr")
    # per benchmark x strategy x budget (2 x 2 x 2): b loses problems 1, 3, 5 and gains 6, 8
    assert len(rows) == 8 * 5
    summary = driver.find_element("id", "flips").text
    assert "16 solved only in B" in summary and "24 solved only in A" in summary
    rows[0].click()
    assert _count(driver) == 2  # that problem in that cell: one sample in each run
    assert driver.find_element("id", "chip").is_displayed()


def test_screenshot(page, tmp_path):
    """Not an assertion on looks: leaves /tmp/evalkit-view.png for a person to check the page by eye."""
    driver, _ = page
    driver.find_element("css selector", "#list .row").click()
    assert driver.save_screenshot(os.environ.get("EVALKIT_VIEW_SCREENSHOT", str(tmp_path / "view.png")))


def test_cut_texts_say_so(page, tmp_path):
    driver, _ = page
    run = plant_run(tmp_path, "cut", problems=1, samples=1, budgets=(256,), finalize_run=False)
    driver.get(write_view([run], tmp_path / "cut.html", max_chars=20).as_uri())
    driver.find_element("css selector", "#list .row").click()
    assert "more characters cut by evalkit view --max-chars" in driver.find_element("id", "detail-thinking").text
    assert "cut here by evalkit view --max-chars" in driver.find_element("id", "d-solution").text
    assert [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")] == []
