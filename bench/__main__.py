"""`python -m bench`: every benchmark that exists — page reruns (pages_bench), search (search_bench), and one
editor with three reader processes (serving_bench)."""

from __future__ import annotations

import importlib
import importlib.util
import sys


def main() -> int:
    status = 0
    for name in ("bench.pages_bench", "bench.search_bench", "bench.serving_bench"):
        if importlib.util.find_spec(name) is None:
            print(f"({name} not present; skipped)")
            continue
        result = importlib.import_module(name).main()
        status = status or (result if isinstance(result, int) else 0)
    return status


if __name__ == "__main__":
    sys.exit(main())
