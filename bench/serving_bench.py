"""Many processes: one editor server and three reader servers (KB_READ_ONLY=1) over one release folder.

Reports
- accept → visible: from the start of an accept (commit + publish of the new release) until all three reader
  processes show the new release id in their footer on a rerun of Home;
- reader reruns with three readers running: warm rerun times of the main pages in one reader while the other two
  reader processes serve a session each that reruns a page every ``--think`` seconds (0 = flat out);
- the editorial store: open + one query + close (what each store operation costs when nothing lingers), and an
  accept with its publish.

Readers are read over Streamlit's websocket protocol (bench/servers.py), not a browser: the times are the
server's (script run + messages), not the browser's rendering.

    python -m bench.serving_bench [--accepts 5] [--runs 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

from bench.servers import Reader, serve

PAGES = (("Home", "", ""), ("Sources", "sources", ""), ("Trial explorer", "explorer", ""),
         ("Trial explorer (study open)", "explorer", "study=checkmate204"), ("Dosing", "dosing", ""),
         ("Search", "search", "q=radiosurgery"))
TARGET_MS = 250.0


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def _accept_one(store, n: int) -> tuple[str, float]:
    from kb import edits

    raw = edits.as_form(edits.load_record(store, "sources", "ref028"))
    raw["sources"][0]["note"] = f"bench accept {n}"
    pid = edits.propose_update(store, "alice", "sources", "ref028", raw, edits.version(store, "sources", "ref028"),
                               "benchmark")
    started = time.perf_counter()
    edits.accept(store, pid, "bob")
    return store.last_release, started


def run(args: argparse.Namespace, folder: Path) -> int:
    from kb import auth
    from kb.rebuild import rebuild_store
    from kb.store import Store

    home = folder / "home"
    store = Store(home)
    rebuild_store(store)
    auth.SCRYPT_N = 2**10   # accounts for the benchmark only
    with store.held():
        for name in ("alice", "bob"):
            auth.add_editor(store, name, "benchmark password " + name)
    store.close()

    opens = []
    for _ in range(20):
        began = time.perf_counter()
        store.execute("SELECT count(*) FROM proposals").fetchone()
        store.close()
        opens.append((time.perf_counter() - began) * 1000)

    readers_env = {"KB_READ_ONLY": "1", "KB_RELEASES": str(home / "releases"), "KB_HOME": str(folder / "none"),
                   "KB_DB": None}
    print("Starting one editor and three reader servers…", flush=True)
    with ExitStack() as stack:
        urls = list(ThreadPoolExecutor(4).map(lambda i: stack.enter_context(serve(
            readers_env if i else {"KB_HOME": str(home), "KB_READ_ONLY": None, "KB_DB": None},
            folder / f"server{i}.log")), range(4)))
        tabs = [stack.enter_context(Reader(url)) for url in urls[1:]]
        for tab in tabs:
            for _title, page, query in PAGES:
                tab.run(page, query)      # cold runs: fill each process's caches

        # ---------------------------------------------------------------- accept -> visible on every reader
        visible, accepts = [], []
        for n in range(args.accepts):
            release_id, started = _accept_one(store, n)
            accepts.append((time.perf_counter() - started) * 1000)

            def until_visible(tab: Reader) -> float:
                while time.perf_counter() - started < 60:
                    if tab.run().release_id == release_id:
                        return time.perf_counter() - started
                raise RuntimeError("a reader never showed the new release")

            visible.append(max(ThreadPoolExecutor(3).map(until_visible, tabs)) * 1000)
            store.close()

        # ---------------------------------------------------------------- reader reruns, three readers busy
        stop = threading.Event()

        def keep_busy(tab: Reader) -> None:
            while not stop.is_set():
                for _title, page, query in PAGES:
                    tab.run(page, query)
                    stop.wait(args.think)

        busy = [threading.Thread(target=keep_busy, args=(tab,), daemon=True) for tab in tabs[1:]]
        for thread in busy:
            thread.start()
        reruns = {}
        try:
            for title, page, query in PAGES:
                tabs[0].run(page, query)
                reruns[title] = [tabs[0].run(page, query).seconds * 1000 for _ in range(args.runs)]
        finally:
            stop.set()
            for thread in busy:
                thread.join(60)

    print(f"\nEditorial store (DuckDB, opened per operation): open + query + close median "
          f"{statistics.median(opens):.1f} ms, p95 {p95(opens):.1f} ms")
    print(f"Accept (commit + publish of the new release): median {statistics.median(accepts):.0f} ms, "
          f"max {max(accepts):.0f} ms")
    print(f"Accept → visible on all 3 readers ({args.accepts} accepts): median {statistics.median(visible):.0f} ms, "
          f"max {max(visible):.0f} ms")
    print(f"\nReader reruns with three readers running ({args.runs} per page; the two other readers rerun a page "
          f"every {args.think:g} s; server time over the websocket)")
    print(f"{'page':<32} {'median ms':>10} {'p95 ms':>8}")
    for title, times in reruns.items():
        flag = "" if p95(times) < TARGET_MS else "  ← over target"
        print(f"{title:<32} {statistics.median(times):>10.1f} {p95(times):>8.1f}{flag}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--accepts", type=int, default=5, help="accepts timed until visible (default 5)")
    parser.add_argument("--runs", type=int, default=15, help="timed reruns per page (default 15)")
    parser.add_argument("--think", type=float, default=0.5,
                        help="seconds between the other readers' reruns (default 0.5; 0 = flat out)")
    args = parser.parse_args(argv if argv is not None else [])
    with tempfile.TemporaryDirectory(prefix="kb-serving-bench-") as folder:   # never the repository's kb_home
        return run(args, Path(folder))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
