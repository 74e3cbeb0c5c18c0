"""The answer in words: one-line headlines per item (shared by the page, the CLI and the download), the CLI's text,
and the one-page Markdown summary with its numbered citations.

Markdown was chosen for the download: it is plain text a clinician can read as it is, paste into a note or an email
without markup debris, and it renders with clickable links wherever Markdown is shown. Missing figures are left out
of a sentence, never written as "None" or "nan".
"""

from __future__ import annotations

from typing import Any, Callable

SECTION_TITLES = {"studies": "Studies", "dose_schedules": "Dose schedules", "drug_signals": "Drug–SRS signals",
                  "recommendations": "Guideline recommendations", "imaging": "Imaging",
                  "gaps": "What the KB does not know for this profile"}
# how many items of each section the one-page summary lists (the page and the CLI list all)
SUMMARY_LIMITS = {"covers": 5, "eligibility_not_recorded": 3, "dose_schedules": 5, "drug_signals": 5,
                  "recommendations": 6, "imaging": 3}


def _n(value: Any) -> str:
    return f"{float(value):g}"


def _join(*parts: Any, sep: str = ", ") -> str:
    return sep.join(str(p) for p in parts if p not in (None, "", []))


def study_headline(s: dict[str, Any]) -> str:
    """'NCCTG N0574 (Alliance) — Randomized controlled trial, phase 3, evidence level 2, 2016, 213 enrolled'."""
    details = _join(s.get("design"), f"phase {s['phase']}" if s.get("phase") else None,
                    f"evidence level {s['evidence_level']}" if s.get("evidence_level") is not None else None,
                    s.get("year"), f"{s['n_enrolled']} enrolled" if s.get("n_enrolled") is not None else None)
    return f"{s['short_name']} — {details}" if details else s["short_name"]


def schedule_headline(s: dict[str, Any]) -> str:
    """'27 Gy / 3 fx — Fractionated SRS (intact), ≥ 2 cm: BED 51.3 Gy, EQD2 42.8 Gy (α/β 10 Gy)'."""
    head = s.get("schedule") or s.get("category_label") or s["schedule_id"]
    label = s.get("category_label") if s.get("schedule") else None
    doses = None
    if s.get("bed_gy") is not None:
        doses = (f"BED {_n(s['bed_gy'])} Gy, EQD2 {_n(s['eqd2_gy'])} Gy (α/β {_n(s['alpha_beta_gy'])} Gy), "
                 f"{_n(s['dose_per_fraction_gy'])} Gy per fraction")
    risk = None
    if s.get("reported_risk_pct") is not None:
        risk = f"reported risk {_n(s['reported_risk_pct'])}%" + (f" ({s['risk_endpoint']})"
                                                                 if s.get("risk_endpoint") else "")
    tail = _join(doses, risk, sep="; ")
    return _join(head, _join(label, s.get("size_range")), sep=" — ") + (f": {tail}" if tail else "")


def signal_headline(s: dict[str, Any]) -> str:
    """'trastuzumab emtansine (T-DM1) — Symptomatic radionecrosis: 39.1% with the drug vs 4.5% without (patients)'."""
    rates = []
    if s.get("rate_with_drug_pct") is not None:
        rates.append(f"{_n(s['rate_with_drug_pct'])}% with the drug")
    if s.get("rate_without_drug_pct") is not None:
        rates.append(f"{_n(s['rate_without_drug_pct'])}% without")
    figure = " vs ".join(rates)
    if figure and s.get("unit_of_analysis"):
        figure += f" (per {s['unit_of_analysis'].rstrip('s') if s['unit_of_analysis'] != 'patients' else 'patient'})"
    detail = _join(figure, s.get("effect"), sep="; ")
    return f"{s['drug']} — {s.get('toxicity_name') or s['toxicity']}" + (f": {detail}" if detail else "")


def recommendation_headline(r: dict[str, Any]) -> str:
    """'ASCO (endorsing ASTRO) · ASCO endorsement of ASTRO 2022 (2022) — strength: Conditional'."""
    return f"{r.get('body_short') or r.get('body')} · {r.get('guideline')} ({r.get('year')}) — strength: " \
           f"{r['strength_label']}"


def imaging_headline(i: dict[str, Any]) -> str:
    """'DSC perfusion MRI — Radionecrosis vs progression: rCBV; sensitivity 70%, specificity 92.9%'."""
    accuracy = _join(f"sensitivity {_n(i['sensitivity_pct'])}%" if i.get("sensitivity_pct") is not None else None,
                     f"specificity {_n(i['specificity_pct'])}%" if i.get("specificity_pct") is not None else None,
                     f"AUC {_n(i['auc'])}" if i.get("auc") is not None else None)
    head = f"{i.get('modality')} — {i.get('purpose_label') or i['purpose']}"
    detail = _join(i.get("parameter"), accuracy, sep="; ")
    return head + (f": {detail}" if detail else "")


HEADLINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "studies": study_headline, "dose_schedules": schedule_headline, "drug_signals": signal_headline,
    "recommendations": recommendation_headline, "imaging": imaging_headline}


def figure_text(figure: dict[str, Any]) -> str:
    """One key result: 'Cognitive failure (time to), WBRT + memantine vs WBRT + placebo: HR 0.78 (…)'."""
    who = figure.get("arm") or "all patients"
    if figure.get("comparator"):
        who += f" vs {figure['comparator']}"
    note = f" — {figure['population_note']}" if figure.get("population_note") else ""
    return f"{_join(figure.get('endpoint'), who)}: {figure['result']}{note}"


def citation_text(item: dict[str, Any]) -> str:
    """'Brown 2016, JAMA · doi:10.1001/jama.2016.9839 · PMID 27458945'."""
    return _join(item.get("citation"), f"doi:{item['doi']}" if item.get("doi") else None,
                 f"PMID {item['pmid']}" if item.get("pmid") else None,
                 f"{item['nct_id']}" if item.get("nct_id") else None, sep=" · ")


def body_text(section: str, item: dict[str, Any]) -> str | None:
    """The item's own words: a study's key result, a schedule's description, a signal's finding, …"""
    return {"studies": item.get("key_result"), "dose_schedules": item.get("description"),
            "drug_signals": item.get("finding"), "recommendations": item.get("recommendation"),
            "imaging": item.get("summary")}.get(section)


# ------------------------------------------------------------------------------------------------ CLI text
def render_text(answer: dict[str, Any]) -> str:
    """The whole answer as plain text for a terminal: every item with its id, source, verification and reasons."""
    from kb.patient.answer import ID_KEYS

    lines = ["Evidence for a patient — BrainMets KB", f"Profile: {answer['profile']['summary']}",
             answer["statement"], ""]
    for section in ("studies", "dose_schedules", "drug_signals", "recommendations", "imaging"):
        items = answer[section]
        lines.append(f"{SECTION_TITLES[section]} ({len(items)})")
        if not items:
            lines.append("  none in this KB for this profile")
        group = None
        for item in items:
            if section == "studies" and item["group"] != group:
                group = item["group"]
                lines.append("  Eligibility covers this profile:" if group == "covers" else
                             "  Eligibility not recorded in the KB (or not comparable with the profile):")
            lines.append(f"  - [{item[ID_KEYS[section]]}] {HEADLINES[section](item)}")
            text = body_text(section, item)
            if text:
                lines.append(f"      {text}")
            if section == "studies":
                for figure in item.get("key_results", []):
                    lines.append(f"      · {figure_text(figure)} ({figure.get('verification') or 'unverified'})")
            if section == "drug_signals":
                lines.append(f"      Timing window: {item.get('timing_window') or 'not stated in the source'}")
            lines.append(f"      Source: {citation_text(item)} — {item.get('verification') or 'unverified'}")
            lines.append("      Why: " + "; ".join(item["why"]))
        lines.append("")
    if answer.get("studies_excluded"):
        lines.append(f"Studies of this population whose recorded eligibility excludes this profile "
                     f"({len(answer['studies_excluded'])})")
        for item in answer["studies_excluded"]:
            lines.append(f"  - [{item['study_id']}] {item['short_name']}: " + "; ".join(item["why_not"]))
        lines.append("")
    lines.append(SECTION_TITLES["gaps"])
    lines += [f"  - {gap}" for gap in answer["gaps"]] or ["  - nothing to report"]
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------ download
def _md(text: Any) -> str:
    """Stored text made inert in Markdown (links, emphasis and HTML show as the characters they are)."""
    special = set("\\`*_[]<>")  # enough to keep links, emphasis and HTML inert; the text stays readable as it is
    return "".join("\\" + ch if ch in special else ch for ch in str(text)).replace("\n", " ")


def render_summary(answer: dict[str, Any], share_url: str | None = None) -> str:
    """A one-page Markdown summary: the profile, the best items of each section with numbered citations, the gaps,
    and the citation list (DOI and PubMed links). The page and the CLI list everything; this keeps to a page."""
    citations: dict[str, int] = {}
    refs: list[str] = []

    def cite(item: dict[str, Any]) -> str:
        key = item.get("source_id") or item.get("doi") or item.get("citation") or ""
        if key not in citations:
            citations[key] = len(citations) + 1
            links = item.get("links") or {}
            parts = [_md(item.get("citation") or "source")]
            if item.get("doi"):
                parts.append(f"[doi:{_md(item['doi'])}]({_url(links.get('doi'))})")
            if item.get("pmid"):
                parts.append(f"[PMID {_md(item['pmid'])}]({_url(links.get('pubmed'))})")
            refs.append(f"{citations[key]}. " + " · ".join(parts))
        return f"[{citations[key]}]"

    profile = answer["profile"]
    release = answer.get("release") or {}
    out = ["# Evidence for a patient — BrainMets KB", "",
           f"**Profile:** {_md(profile['summary'])}  ",
           f"**Release:** {_md(release.get('release', 'unreleased'))}, built {_md(release.get('built_at', '?'))}"
           + (f"  \n**Full answer:** {_url(share_url)}" if share_url else ""), "",
           f"> {_md(answer['statement'])}", ""]

    def line(section: str, item: dict[str, Any]) -> str:
        status = item.get("verification") or "unverified"
        return f"- {_md(HEADLINES[section](item))} — *{status}* {cite(item)}"

    studies = answer["studies"]
    covers = [s for s in studies if s["group"] == "covers"]
    unknown = [s for s in studies if s["group"] != "covers"]
    out.append(f"## Studies ({len(covers)} whose recorded eligibility covers this profile; {len(unknown)} whose "
               "eligibility is not recorded)")
    for s in covers[:SUMMARY_LIMITS["covers"]]:
        out.append(line("studies", s))
        if s.get("key_result"):
            out.append(f"  {_md(s['key_result'])}")
    if len(covers) > SUMMARY_LIMITS["covers"]:
        out.append(f"- … and {len(covers) - SUMMARY_LIMITS['covers']} more on the page")
    if unknown:
        out.append("")
        out.append("*Eligibility not recorded in the KB — check each paper:*")
        for s in unknown[:SUMMARY_LIMITS["eligibility_not_recorded"]]:
            out.append(line("studies", s))
        if len(unknown) > SUMMARY_LIMITS["eligibility_not_recorded"]:
            out.append(f"- … and {len(unknown) - SUMMARY_LIMITS['eligibility_not_recorded']} more on the page")
    out.append("")
    for section in ("dose_schedules", "drug_signals", "recommendations", "imaging"):
        items, limit = answer[section], SUMMARY_LIMITS[section]
        out.append(f"## {SECTION_TITLES[section]} ({len(items)})")
        if not items:
            out.append("- none in this KB for this profile")
        for item in items[:limit]:
            entry = line(section, item)
            if section == "drug_signals":
                entry += f" — timing window: {_md(item.get('timing_window') or 'not stated in the source')}"
            if section == "recommendations" and item.get("recommendation"):
                entry += f"  \n  {_md(item['recommendation'])}"
            out.append(entry)
        if len(items) > limit:
            out.append(f"- … and {len(items) - limit} more on the page")
        if section == "dose_schedules" and items:
            out.append("- *BED and EQD2 are computed with the linear-quadratic model, which is less reliable at the "
                       "high doses per fraction of single-fraction SRS.*")
        out.append("")
    out.append(f"## {SECTION_TITLES['gaps']}")
    out += [f"- {_md(gap)}" for gap in answer["gaps"]] or ["- nothing to report"]
    out += ["", "## Citations", *refs, ""]
    return "\n".join(out)


def _url(url: str | None) -> str:
    """A URL safe inside Markdown link parentheses (DOIs may contain parentheses)."""
    return (url or "").replace(" ", "%20").replace("(", "%28").replace(")", "%29")
