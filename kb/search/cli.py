"""``python -m kb search``: the same search from the command line, over the current release (read-only)."""

from __future__ import annotations

import argparse
import json
import sys

from kb.search.documents import _text
from kb.search.load import build_index


def cmd_search(args: argparse.Namespace) -> int:
    from kb.releases import NoRelease, open_reader

    try:
        con = open_reader(args.db)   # read-only: any number of processes, the app serving included
    except NoRelease as exc:
        print(exc, file=sys.stderr)
        return 1
    try:
        index = build_index(con)
    finally:
        con.close()
    hits = index.search(args.query, limit=args.limit, year_min=args.year_from, year_max=args.year_to,
                        pub_types=args.type or ())
    if args.json:
        print(json.dumps([h.to_json() for h in hits], ensure_ascii=False, indent=1))
        return 0
    if not hits:
        print("No source matches.", file=sys.stderr)
        return 1
    for rank, hit in enumerate(hits, start=1):
        r = hit.record
        print(f"{rank:>2}. [{hit.source_id}] {hit.score:6.2f}  {_text(r.get('first_author'))} "
              f"{_text(r.get('year'))} — {_text(r.get('title'))} ({_text(r.get('journal'))})"
              + (f" doi:{_text(r.get('doi'))}" if _text(r.get("doi")) else ""))
    return 0


def register_cli(sub) -> None:
    """``python -m kb search "QUERY" [--limit N] [--json]``."""
    p = sub.add_parser("search", help="fuzzy search of the sources (typos, accents, acronyms, synonyms)")
    p.add_argument("query", help='e.g. "minitti 3x9 gy", "Perez Garcia", "N0574", "T-DM1 necrosis"')
    p.add_argument("--limit", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--json", action="store_true", help="print one JSON array of results")
    p.add_argument("--from", dest="year_from", type=int, help="earliest year")
    p.add_argument("--to", dest="year_to", type=int, help="latest year")
    p.add_argument("--type", action="append", help="publication type (repeatable), e.g. randomized_trial")
    p.add_argument("--db", help="a KB file to search (default: $KB_DB, else the current release)")
    p.set_defaults(func=cmd_search)
