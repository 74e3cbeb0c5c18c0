"""``python -m kb patient``: the evidence for one profile, as text or as one JSON object.

    python -m kb patient --histology "HER2+ breast" --metastases 3 --diameter-cm 2 --setting intact --drug T-DM1 --json

Bad input (an unknown drug, a diameter over 10 cm, a negative count, an unknown setting …) prints one sentence per
problem on standard error and exits with status 2; nothing is written anywhere.

The JSON object: ``profile`` (ids, names, the one-line summary, the page-address parameters), ``statement``,
``release``; the lists ``studies`` (``study_id``; ``group`` is ``covers`` or ``eligibility_not_recorded``),
``dose_schedules`` (``schedule_id``; BED/EQD2 computed), ``drug_signals`` (``signal_id``; ``patient_drug_ids``,
``timing_window``), ``recommendations`` (``recommendation_id``; ``strength`` as graded, ``grading_system``),
``imaging`` (``imaging_id``) — every item with ``why`` (a list of sentences), its source and verification — and
``gaps`` (sentences). ``studies_excluded`` and ``recommendations_excluded`` list what the profile's population falls
outside of, with ``why_not``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import duckdb


def open_kb(db: str | None = None) -> duckdb.DuckDBPyConnection:
    """The KB this command reads: the current release, read-only, as ``kb search`` opens it (kb.releases)."""
    from kb.releases import open_reader

    return open_reader(db)


def cmd_patient(args: argparse.Namespace) -> int:
    from kb.patient.answer import evidence
    from kb.patient.load import load_tables
    from kb.patient.profile import parse_profile
    from kb.patient.vocabulary import ProfileError
    from kb.patient.report import render_text

    from kb.releases import NoRelease

    try:
        con = open_kb(args.db)
    except (NoRelease, duckdb.IOException) as exc:
        print(f"Cannot open the knowledge base: {exc}", file=sys.stderr)
        return 1
    try:
        tables = load_tables(con)
    finally:
        con.close()
    try:
        profile = parse_profile(tables.vocab, args.histology, args.metastases, args.diameter_cm, args.volume_cc,
                                args.setting, args.prior_radiation, args.drug or [])
    except ProfileError as exc:
        for problem in exc.problems:
            print(problem, file=sys.stderr)
        return 2
    answer = evidence(tables, profile)
    try:
        if args.json:
            print(json.dumps(answer, ensure_ascii=False, indent=1))
        else:
            sys.stdout.write(render_text(answer))
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (e.g. `| head`) stopped early; not an error of ours
        sys.stderr.close()
    return 0


def register_cli(sub) -> None:
    """``python -m kb patient --histology … [--metastases N] [--diameter-cm X] [--volume-cc V] [--setting S]
    [--prior-radiation | --no-prior-radiation] [--drug D …] [--json]``."""
    p = sub.add_parser("patient", help="the evidence in the KB that fits one patient's profile (never a "
                                       "treatment recommendation)",
                       description="Studies, dose schedules, drug–SRS signals, guideline recommendations, imaging "
                                   "and gaps for one profile; each item with its KB id, source and the reasons it "
                                   "matched. Enter no names or identifiers of a person.")
    p.add_argument("--histology", required=True, help='primary tumour, id or name: "HER2+ breast", "EGFR NSCLC", '
                                                      '"melanoma", "nsclc_alk"')
    p.add_argument("--metastases", help="number of brain metastases (0–100)")
    p.add_argument("--diameter-cm", help="largest diameter in cm (more than 0, at most 10)")
    p.add_argument("--volume-cc", help="volume of the largest lesion or cavity in cc (more than 0, at most 500)")
    p.add_argument("--setting", help="intact, postoperative (resected cavity), preoperative (before planned "
                                     "surgery), recurrent (recurrence after SRS or WBRT), leptomeningeal, "
                                     "systemic_only")
    p.add_argument("--prior-radiation", action=argparse.BooleanOptionalAction, default=None,
                   help="prior brain radiation (yes with --prior-radiation, no with --no-prior-radiation)")
    p.add_argument("--drug", action="append", metavar="DRUG",
                   help='systemic drug, generic name, brand or abbreviation ("T-DM1", "Kadcyla", "osimertinib"); '
                        "repeat for several")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--db", help="a KB file to read (default: $KB_DB, else the current release)")
    p.set_defaults(func=cmd_patient)
