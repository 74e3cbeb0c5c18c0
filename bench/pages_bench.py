"""Warm rerun time of every page, measured with Streamlit's AppTest on a release built from data/.

For each page: one cold run (fills the caches), then N timed reruns; reports the median and 95th percentile in ms.
The server compiles each page script once and keeps the bytecode; AppTest would recompile it on every run, so the
bench shares one ScriptCache across runs, as the server does. The target is well under 250 ms per page.

    python -m bench.pages_bench [--runs 20] [--page explorer]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_MS = 250.0

# (title, script path, query string a user would share) — the second row of a page exercises a filtered view.
PAGES: tuple[tuple[str, str, dict[str, str | list[str]]], ...] = (
    ("Home", "pages/home.py", {}),
    ("Search (T-DM1 radionecrosis)", "pages/search.py", {"q": "T-DM1 radionecrosis"}),
    ("Sources", "pages/sources.py", {}),
    ("Evidence dashboard", "pages/dashboard.py", {}),
    ("Trial explorer", "pages/explorer.py", {}),
    ("Trial explorer (melanoma, study open)", "pages/explorer.py", {"histology": "melanoma", "study": "checkmate204"}),
    ("Trial explorer (melanoma + ICI + 3 metastases)", "pages/explorer.py",
     {"histology": "melanoma", "drug_class": "immune_checkpoint_inhibitor", "mets": "3"}),
    ("Trial explorer (Sahgal 2015 open, OS compared)", "pages/explorer.py",
     {"study": "sahgal2015", "compare": "overall_survival"}),
    ("Dosing and fractionation", "pages/dosing.py", {}),
    ("Drug–SRS toxicity", "pages/toxicity.py", {}),
    ("Drug–SRS toxicity (drug=Kadcyla)", "pages/toxicity.py", {"drug": "Kadcyla"}),
    ("Guidelines", "pages/guidelines.py", {}),
    ("Imaging", "pages/imaging.py", {}),
    ("Evidence for a patient (empty form)", "pages/patient.py", {}),
    ("Evidence for a patient (HER2+ breast, T-DM1)", "pages/patient.py",
     {"histology": "breast_her2pos", "mets": "3", "diameter": "2", "setting": "intact",
      "drug": ["trastuzumab_emtansine"]}),
    ("Evidence for a patient (melanoma, 6 mets, ICI)", "pages/patient.py",
     {"histology": "melanoma", "mets": "6", "setting": "intact", "prior": "yes", "drug": ["pembrolizumab"]}),
)


def _share_script_cache() -> None:
    """Make every AppTest run reuse one compiled-script cache, like a running server (and keep Streamlit's
    'missing ScriptRunContext' warning, which bare-mode AppTest set-up triggers, out of the table)."""
    import logging

    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage())
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache
    from streamlit.testing.v1 import app_test

    shared = ScriptCache()
    app_test.ScriptCache = lambda: shared  # type: ignore[assignment]


def time_page(path: str, params: dict, runs: int) -> list[float]:
    """Milliseconds of ``runs`` warm reruns of one page (after one untimed cold run)."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    for key, value in params.items():
        at.query_params[key] = value
    at.switch_page(path)
    at.run()
    if at.exception:
        raise RuntimeError(f"{path} raised: {at.exception[0].value}")
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
    return times


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=20, help="timed reruns per page (default 20)")
    parser.add_argument("--page", help="only pages whose title contains this text")
    args = parser.parse_args(argv if argv is not None else [])

    if os.environ.get("KB_HOME"):
        return run(args)
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as folder:  # never touch the repository's kb_home
        os.environ["KB_HOME"] = str(Path(folder) / "home")
        try:
            return run(args)
        finally:
            del os.environ["KB_HOME"]


def run(args: argparse.Namespace) -> int:
    from kb.rebuild import ensure_ready

    release = ensure_ready(quiet=True)
    _share_script_cache()

    print(f"Warm page reruns ({args.runs} per page, AppTest, release {release.release_id})")
    print(f"{'page':<42} {'median ms':>10} {'p95 ms':>8}")
    slow = []
    for title, path, params in PAGES:
        if args.page and args.page.lower() not in title.lower():
            continue
        if not (ROOT / path).exists():
            print(f"{title:<42} {'(missing)':>10}")
            continue
        times = time_page(path, params, args.runs)
        median, high = statistics.median(times), p95(times)
        flag = "" if high < TARGET_MS else "  ← over target"
        if high >= TARGET_MS:
            slow.append(title)
        print(f"{title:<42} {median:>10.1f} {high:>8.1f}{flag}")
    print(f"Target: every page well under {TARGET_MS:.0f} ms." + (f" Over: {', '.join(slow)}." if slow else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
