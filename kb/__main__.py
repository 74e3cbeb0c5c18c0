"""Command line: ``python -m kb build | check | export | search | patient | add-editor | parse-references``."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from kb import build as build_mod
from kb.config import DATA_DIR, SEED_DIR, db_path


def cmd_build(args: argparse.Namespace) -> int:
    if args.if_needed:
        return _build_if_needed(Path(args.db) if args.db else db_path())
    try:
        counts = build_mod.build(Path(args.db) if args.db else None, force=args.force)
    except build_mod.BuildError as exc:
        print(exc, file=sys.stderr)
        print("Nothing was written.", file=sys.stderr)
        return 1
    except build_mod.UnexportedEditsError as exc:
        print(exc, file=sys.stderr)
        return 2
    total = sum(counts.values())
    print(f"Built {args.db or db_path()} from {DATA_DIR}: {total} rows in {len(counts)} tables.")
    return 0


def _build_if_needed(path: Path) -> int:
    """Build when the DB is missing or older than data/; keep it (with a warning) when it holds unexported edits."""
    newest = max(p.stat().st_mtime for p in DATA_DIR.glob("*.csv"))
    if path.exists() and path.stat().st_mtime >= newest:
        print(f"{path} is up to date.")
        return 0
    pending = build_mod.unexported_changes(path)
    if pending:
        print(f"data/ changed, but {path} holds {pending} unexported change(s); keeping it. "
              "Run `python -m kb export`, then `python -m kb build`.", file=sys.stderr)
        return 0
    try:
        build_mod.build(path)
    except build_mod.BuildError as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Built {path}.")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    if args.with_dirs:  # as `merge` would apply them: replacements, vocabulary additions, new rows
        from kb import curation
        problems = curation.check([Path(d) for d in args.with_dirs])
    else:
        _, problems = build_mod.load_and_validate(DATA_DIR)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} problem(s).", file=sys.stderr)
        return 1
    print("data/ is valid." if not args.with_dirs else f"data/ plus {', '.join(args.with_dirs)} is valid.")
    return 0


def cmd_parse_references(args: argparse.Namespace) -> int:
    from kb.references import SOURCE_COLUMNS, source_rows

    seed = Path(args.seed) if args.seed else next(SEED_DIR.glob("003_*.txt"))
    rows = source_rows(seed)
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8", newline="")
    writer = csv.DictWriter(out, fieldnames=SOURCE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    if out is not sys.stdout:
        out.close()
    print(f"{len(rows)} sources written to {args.out}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb", description="BrainMets KB command line")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="validate data/ and build the DuckDB file ($KB_DB)")
    p.add_argument("--db", help="database path (default: $KB_DB or brainmets.duckdb)")
    p.add_argument("--force", action="store_true", help="rebuild even over unexported edits (backs the file up)")
    p.add_argument("--if-needed", action="store_true", help="build only if the DB is missing or older than data/")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("check", help="validate data/ without building; lists every problem")
    p.add_argument("--with", dest="with_dirs", action="append", default=[], metavar="DIR",
                   help="also validate DIR/<table>.csv files together with data/ (curation staging)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("parse-references", help="parse the seed review's reference list into sources rows")
    p.add_argument("--seed", help="seed text (default: ../shared/seeds/003_*.txt)")
    p.add_argument("--out", default="-", help="CSV file to write (default: standard output)")
    p.set_defaults(func=cmd_parse_references)

    for extra in ("kb.curation", "kb.search", "kb.export", "kb.auth", "kb.patient.cli"):  # later features register their own sub-commands
        try:
            module = __import__(extra, fromlist=["register_cli"])
        except ImportError:
            continue
        if hasattr(module, "register_cli"):
            module.register_cli(sub)

    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
