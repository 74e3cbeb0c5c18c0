"""Command line: ``python -m kb build | check | publish | release | export | search | patient | add-editor |
remove-editor | parse-references``. Every command works while the app is serving: readers' commands open the
current release read-only; writers wait (at most $KB_STORE_WAIT s) for the editorial store's lock."""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

from kb import build as build_mod
from kb.config import DATA_DIR, SEED_DIR


def cmd_build(args: argparse.Namespace) -> int:
    from kb.files import DiskFull
    from kb.rebuild import BuildClash, ensure_ready, rebuild_store
    from kb.store import StoreError, get_store

    store = get_store(args.home)
    try:
        if args.if_needed:
            release = ensure_ready(store, Path(args.data_dir))
            print(f"Ready: release {release.release_id} in {release.folder}.")
            return 0
        report = rebuild_store(store, Path(args.data_dir), force=args.force)
    except build_mod.BuildError as exc:
        print(exc, file=sys.stderr)
        print("Nothing was written.", file=sys.stderr)
        return 1
    except BuildClash as exc:
        print(exc, file=sys.stderr)
        return 2
    except (StoreError, DiskFull) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(report.summary())
    return 0


def cmd_publish(args: argparse.Namespace) -> int:
    """Publish the working copy if the current release is behind it (after a crash, say); print the release id."""
    from kb.files import DiskFull
    from kb.store import StoreError, get_store

    try:
        release = get_store(args.home).publish(force=args.force)
    except (StoreError, DiskFull) as exc:
        print(exc, file=sys.stderr)
        return 1
    print(f"Current release: {release.release_id} ({release.path}).")
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


def _recover_export() -> None:
    """Before reading data/: finish an export a kill interrupted (so data/ is never seen half-exported)."""
    from kb import export
    from kb.store import StoreError, get_store

    store = get_store()
    try:
        export.recover(DATA_DIR, store if store.exists() else None)
    except StoreError:
        export.recover(DATA_DIR, None)   # the files now; the store records the export at its next use


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

    p = sub.add_parser("build", help="validate data/ and rebuild the editorial store from it, re-applying every "
                                     "accepted edit not yet exported; then publish a release")
    p.add_argument("--home", help="the editor instance's folder (default: $KB_HOME or kb_home/)")
    p.add_argument("--force", action="store_true", help="when an accepted edit and a hand edit in data/ changed the "
                                                        "same record, keep the accepted edit (export writes it)")
    p.add_argument("--if-needed", action="store_true", help="only when the store is missing or data/ changed; "
                                                            "then publish if the current release is behind")
    p.add_argument("--data-dir", default=str(DATA_DIR), help="where the CSV files are (default: data/)")
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("publish", help="publish the editorial store as a new release if the current one is behind")
    p.add_argument("--home", help="the editor instance's folder (default: $KB_HOME or kb_home/)")
    p.add_argument("--force", action="store_true", help="write a new release file even when nothing changed")
    p.set_defaults(func=cmd_publish)

    p = sub.add_parser("check", help="validate data/ without building; lists every problem")
    p.add_argument("--with", dest="with_dirs", action="append", default=[], metavar="DIR",
                   help="also validate DIR/<table>.csv files together with data/ (curation staging)")
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("parse-references", help="parse the seed review's reference list into sources rows")
    p.add_argument("--seed", help="seed text (default: ../shared/seeds/003_*.txt)")
    p.add_argument("--out", default="-", help="CSV file to write (default: standard output)")
    p.set_defaults(func=cmd_parse_references)

    # later features register their own sub-commands
    for extra in ("kb.curation", "kb.search", "kb.export", "kb.auth", "kb.bundle", "kb.patient.cli"):
        try:
            module = __import__(extra, fromlist=["register_cli"])
        except ImportError:
            continue
        if hasattr(module, "register_cli"):
            module.register_cli(sub)

    args = parser.parse_args(argv)
    if args.command in ("check", "merge"):   # build and export do this themselves, under the store lock
        _recover_export()
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
