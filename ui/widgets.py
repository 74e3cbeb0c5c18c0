"""Shared widgets: URL-backed filters, CSV download, footer with release and disclaimer."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd
import streamlit as st

from kb import display

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
def download_csv(frame: pd.DataFrame, file_name: str, label: str = "Download CSV", key: str | None = None) -> None:
    """A download button with exactly the rows and columns shown: empty cells for missing values and
    formula-like text neutralised (kb.display.csv_bytes, the one way the app writes a CSV)."""
    st.download_button(label, display.csv_bytes(frame), file_name=file_name, mime="text/csv",
                       icon=":material/download:", key=key)


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
    st.divider()
    st.caption(f"BrainMets KB release {release.get('release', 'unreleased')} · built "
               f"{release.get('built_at', '?')} · {DISCLAIMER}")
