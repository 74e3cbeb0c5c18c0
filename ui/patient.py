"""How one item of a patient answer looks on the page: one Markdown block per item (headline, verification badge,
citation with links, KB id, the item's own words, and why it matched). Stored text is always escaped."""

from __future__ import annotations

from typing import Any

from kb.patient.answer import ID_KEYS
from kb.patient.report import HEADLINES, body_text, figure_text
from ui.widgets import badge, escape

KINDS = {"studies": "study", "dose_schedules": "schedule", "drug_signals": "signal",
         "recommendations": "recommendation", "imaging": "imaging"}
LINK_LABELS = {"doi": "DOI", "pubmed": "PubMed", "registry": "ClinicalTrials.gov"}


def _url(url: str) -> str:
    """A URL safe inside Markdown link parentheses (DOIs may hold parentheses or spaces)."""
    return url.replace(" ", "%20").replace("(", "%28").replace(")", "%29")


def source_line(item: dict[str, Any], kind: str, item_id: str) -> str:
    """'verified · Brown 2016, JAMA · [DOI](…) · [PubMed](…) · KB study id `n0574`'."""
    links = " · ".join(f"[{LINK_LABELS[k]}]({_url(u)})" for k, u in (item.get("links") or {}).items()
                       if k in LINK_LABELS and u)
    parts = [badge(item.get("verification") or "unverified"), escape(item.get("citation") or "source not linked")]
    if links:
        parts.append(links)
    parts.append(f":gray[KB {kind} id] `{str(item_id).replace('`', '')}`")
    return " · ".join(parts)


def item_markdown(section: str, item: dict[str, Any], excluded: bool = False) -> str:
    """The Markdown block of one item of ``section`` (``excluded``: a study or recommendation whose stated
    population excludes the patient; it says why)."""
    item_id = item[ID_KEYS[section]]
    kind = f"excluded {KINDS[section]}" if excluded else KINDS[section]
    lines = [f"**{escape(HEADLINES[section](item))}**  ", source_line(item, kind, item_id), ""]
    text = body_text(section, item)
    if section == "recommendations":
        if item.get("population"):
            lines.append(f"*For:* {escape(item['population'])}  ")
        if text:
            lines.append(f"*Recommendation (our words):* {escape(text)}  ")
        if item.get("grading_system"):
            lines.append(f":gray[Grading: {escape(item['grading_system'])}]")
        lines.append("")
    elif text and not excluded:
        lines += [escape(text), ""]
    if section == "studies" and not excluded:
        lines += [f"- {escape(figure_text(f))} {badge(f.get('verification') or 'unverified')}"
                  for f in item.get("key_results", [])]
        lines.append("")
    if section == "drug_signals":
        lines.append(f"*Timing window:* {escape(item.get('timing_window') or 'not stated in the source')}  ")
        if item.get("sequencing_guidance"):
            lines.append(f"*Authors' guidance (our words):* {escape(item['sequencing_guidance'])}")
        lines.append("")
    if excluded:
        lines.append("**Why it does not apply to this profile:**")
        lines += [f"- {escape(reason)}" for reason in item["why_not"]]
        lines.append("")
    lines.append("**Why it matches:**")
    lines += [f"- {escape(reason)}" for reason in item["why"]]
    return "\n".join(lines)
