"""Shared widgets: URL-backed filters, CSV download, footer with release and disclaimer."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
import streamlit as st

from kb import display, links

DISCLAIMER = ("BrainMets KB is a research and education tool. It is not medical advice and does not replace "
              "clinical judgement, the full papers or current guidelines.")

# Streamlit's own badge markup with its bundled icon font: emoji glyphs depend on the reader's system fonts and
# show as empty boxes where none is installed (headless chromium, some hospital desktops).
VERIFICATION_BADGES = {"verified": ":green-badge[:material/check_circle: verified]",
                       "secondary": ":orange-badge[:material/info: secondary]",
                       "unverified": ":gray-badge[:material/help: unverified]"}


# ------------------------------------------------------------------------------------------------ URL state
def param_list(name: str, allowed: Sequence[str] | None = None) -> list[str]:
    """A multi-value filter from the URL (?type=a&type=b); unknown values are dropped."""
    values = st.query_params.get_all(name)
    return [v for v in values if allowed is None or v in allowed]


def param_names(name: str, lookup: dict[str, tuple[str, ...]], allowed: Sequence[str] | None = None) -> list[str]:
    """A multi-value filter from the URL whose values may be any name of the thing (?drug=T-DM1&drug=Kadcyla):
    resolved to ids through ``lookup`` (kb.queries.drug_lookup); unknown names are dropped."""
    from kb.queries import resolve_names

    return [v for v in resolve_names(st.query_params.get_all(name), lookup) if allowed is None or v in allowed]


def param_int(name: str, default: int | None, low: int | None = None, high: int | None = None) -> int | None:
    """An integer from the URL, clamped to [low, high]; the default when absent or not a number."""
    raw = st.query_params.get(name)
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    if value is not None and low is not None:
        value = max(low, value)
    if value is not None and high is not None:
        value = min(high, value)
    return value


def param_text(name: str, max_len: int = 200) -> str:
    return (st.query_params.get(name) or "")[:max_len]


def param_float(name: str, default: float | None, low: float | None = None,
                high: float | None = None) -> float | None:
    """A number from the URL, clamped to [low, high]; the default when absent or not a finite number."""
    raw = st.query_params.get(name)
    try:
        value = float(raw) if raw is not None else default
    except ValueError:
        return default
    if value is not None and value != value:  # NaN
        return default
    if value is not None and low is not None:
        value = max(low, value)
    if value is not None and high is not None:
        value = min(high, value)
    return value


def param_choice(name: str, allowed: Sequence[str], default: str | None = None) -> str | None:
    """One value from the URL if it is one of ``allowed``, else the default."""
    value = st.query_params.get(name)
    return value if value in allowed else default


def sync_params(**values: Any) -> None:
    """Write the current filters to the URL so the view can be shared; drops empty ones."""
    for key, value in values.items():
        if value in (None, "", [], ()):
            if key in st.query_params:
                del st.query_params[key]
        elif isinstance(value, (list, tuple)):
            if st.query_params.get_all(key) != [str(v) for v in value]:
                st.query_params[key] = [str(v) for v in value]
        elif st.query_params.get(key) != str(value):
            st.query_params[key] = str(value)


# ------------------------------------------------------------------------------------------------ tables
def stamped(file_name: str) -> str:
    """The file name with the release this page shows: 'brainmets_studies_2026-12-01.0007-3fa2c1d9.csv'."""
    from ui.cache import current_release_id

    release_id = current_release_id()
    if not release_id:
        return file_name
    stem, dot, ext = file_name.rpartition(".")
    return f"{stem}_{release_id}.{ext}" if dot else f"{file_name}_{release_id}"


# Link columns every table shares, by their shown names. A link exists only where kb.links built one.
LINK_COLUMNS = {
    "DOI": st.column_config.LinkColumn(display_text=links.DOI_TEXT),
    "PubMed": st.column_config.LinkColumn(display_text=links.PUBMED_TEXT),
    "ClinicalTrials.gov": st.column_config.LinkColumn(display_text=links.NCT_TEXT),
    "Read in": st.column_config.LinkColumn(
        display_text=links.HOST_TEXT, help="Where the figure was read: the page named when it was verified, "
                                           "else the paper's DOI or PubMed record"),
}


def table(frame: pd.DataFrame, key: str, essentials: Sequence[str] | None = None,
          column_config: dict | None = None, csv_name: str | None = None, select: bool = False,
          all_columns_label: str = "All columns") -> Any:
    """A table that reads on a phone: the ``essentials`` columns (the few that answer the question, the key
    figure among the first) with the rest one tap away ("All columns"); missing values drawn as "—" with a
    legend, numbers kept numeric so they sort; an optional CSV of every column. Returns the selection event when
    ``select`` (one row)."""
    essentials = [c for c in (essentials or frame.columns) if c in frame.columns]
    extra = len(essentials) < len(frame.columns)
    show_all = extra and st.toggle(f"{all_columns_label} ({len(frame.columns)})", key=key + "_all",
                                   help="Show every column; by default the table shows the ones that answer the "
                                        "question, so it fits a phone.")
    order = list(frame.columns) if show_all or not extra else essentials
    shown = display.for_table(frame)
    event = st.dataframe(shown, hide_index=True, width="stretch", column_order=order,
                         placeholder=display.MISSING_MARK, column_config={**LINK_COLUMNS, **(column_config or {})},
                         key=key, **({"on_select": "rerun", "selection_mode": "single-row"} if select else {}))
    if shown[order].isna().to_numpy().any():
        st.caption(display.MISSING_LEGEND)
    if csv_name:
        download_csv(frame, csv_name, key=key + "_csv")
    return event


def download_csv(frame: pd.DataFrame, file_name: str, label: str = "Download CSV", key: str | None = None) -> None:
    """A download button with the rows shown and every column of the table: empty cells for missing values and
    formula-like text neutralised (kb.display.csv_bytes, the one way the app writes a CSV); the file name carries
    the release id."""
    # written when the reader clicks (a deferred download), not on every rerun of the page
    st.download_button(label, lambda: display.csv_bytes(frame), file_name=stamped(file_name), mime="text/csv",
                       icon=":material/download:", key=key,
                       help="The rows shown, every column. Empty cell = not reported or not verified.")


def empty_state(message: str) -> None:
    st.info(message, icon=":material/filter_alt_off:")


def no_match_message(what: str, active_filters: Sequence[str]) -> str:
    """'No study matches — clear the setting filter or the year filter.' (names the filters that are set)."""
    if not active_filters:
        return f"No {what} is recorded yet."
    names = [f"the {name} filter" for name in active_filters[-2:]]
    return f"No {what} matches — clear " + " or ".join(names) + " (or any other filter set above)."


def verification_caption(values: Sequence[str | None], what: str = "rows shown") -> None:
    """How many of the shown figures are verified, e.g. 'Verification of rows shown: 12 of 14 verified · …'."""
    from kb.queries import verification_tally

    st.caption(f"Verification of {what}: {verification_tally(values)}")


def escape(value: Any) -> str:
    """Stored text made inert for ``st.markdown``: shown as its characters, never as a link, emphasis, icon or
    HTML (kb.display.inert_markdown)."""
    return display.inert_markdown(value)


def present(value: Any) -> bool:
    """True for a value worth showing (not None, NaN or blank)."""
    if value is None:
        return False
    try:
        if pd.isna(value):
            return False
    except (TypeError, ValueError):
        pass
    return str(value).strip() != ""


def plural(n: int, singular: str, plural_: str | None = None) -> str:
    """'1 study', '3 studies' — the noun agrees with the number."""
    return f"{n} {singular if n == 1 else (plural_ or singular + 's')}"


def badge(status: str | None) -> str:
    """The verification badge (Streamlit markdown) for a status."""
    return VERIFICATION_BADGES.get(status or "", status or "")


def footer(release: dict[str, str]) -> None:
    """Which release this page shows (cite its id), the curated edition it was built from, and the disclaimer."""
    st.divider()
    published = str(release.get("published_at") or release.get("built_at") or "?").replace("T", " ")[:16]
    st.caption(f"BrainMets KB release {release.get('release_id', 'unpublished')} · published {published} UTC · "
               f"from data release {release.get('release', 'unreleased')} · {DISCLAIMER}")
