"""`evalkit view` at 100,000 samples: seconds to write the page, and its first render in headless chromium.

Plants one run (2 benchmarks x 1250 problems x 4 samples x 2 strategies x 5 budgets = 100,000 samples, thinking
cut from one pass per problem x sample as a sweep cuts it), then:
1. runs `evalkit view RUN -o FILE` as a user would (a fresh process, so imports count) and times it;
2. opens the file in headless chromium (system chromedriver) and reads `window.evalkitView.ready`, the
   milliseconds from navigation start to the first rendered rows; also times one filter change and opening a
   sample (the first open parses the texts).

    python bench/view_scale.py [--problems 1250] [--keep DIR]

Targets (issue 13): the file in under 10 s, the first render in under 2 s. Run it under the heavy-work lock.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # tests/view_runs.py plants the run

from tests.view_runs import browser_missing, chrome, plant_run  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--problems", type=int, default=1250, help="problems per benchmark (1250 -> 100,000 samples)")
    ap.add_argument("--keep", type=Path, help="plant the run here and keep it (default: a temporary folder)")
    args = ap.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="evalkit-view-"))
    run = root / "scale"
    t = time.perf_counter()
    if not (run / "run.json").exists():
        plant_run(root, "scale", benchmarks=("math500", "aime24"), problems=args.problems, samples=4,
                  strategies=("elastic", "truncate"), budgets=(32, 64, 128, 256, 512),
                  correct=lambda b, i, s, st, lbl: (i * 7 + s * 3 + int(lbl)) % 5 < 2)
    print(f"planted {run} in {time.perf_counter() - t:.1f}s")
    html = root / "scale.html"
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "evalkit", "view", str(run), "-o", str(html)], check=True)
    write_s = time.perf_counter() - t
    print(f"evalkit view: {write_s:.2f} s to write {html.stat().st_size / 1e6:.1f} MB (target < 10 s)")
    missing = browser_missing()
    if missing:
        print(f"first render: not measured ({missing})")
        return
    driver = chrome()
    try:
        t = time.perf_counter()
        driver.get(html.as_uri())
        load_s = time.perf_counter() - t
        ready_ms = driver.execute_script("return window.evalkitView.ready")
        n = driver.find_element("id", "count").text
        filt_ms = driver.execute_script(
            "const t = performance.now(); const s = document.getElementById('f-forced'); s.value = '1';"
            "s.dispatchEvent(new Event('change')); return performance.now() - t;")
        open_ms = driver.execute_script(
            "const t = performance.now(); document.querySelector('#list .row').click(); return performance.now() - t;")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        print(f"first render: {ready_ms / 1000:.2f} s after navigation start (target < 2 s); load event {load_s:.2f} s; {n}")
        print(f"filter (forced only) {filt_ms:.0f} ms; first sample opened {open_ms:.0f} ms; console errors: {len(errors)}")
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
