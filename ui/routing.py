"""Make every page run inside app.py, however the visitor arrives.

Streamlit still supports its first multipage design: a ``pages/`` folder next to the main script. Until
``st.navigation`` has run once in the server process, Streamlit assumes that design, so a shared link such as
``/explorer?histology=melanoma`` opened as the first request after a server start would run ``pages/explorer.py``
on its own: no page config, no navigation sections, no shared sidebar. The design card wants the folder named
``pages/``, so instead each page calls :func:`ensure_routed` first; in that one situation it switches the legacy
mode off and reruns, and the rerun goes through app.py, which routes to the same page (same URL path) with the
same query parameters. Everywhere else it does nothing.

It reads and writes ``PagesManager.uses_pages_directory``, which is internal to Streamlit; requirements.txt pins
Streamlit exactly and tests/test_browser.py::test_a_shared_link_opened_first_after_start_gets_the_full_app
fails if a Streamlit upgrade changes this.
"""

import streamlit as st

try:
    from streamlit.runtime.pages_manager import PagesManager
except ImportError:  # a Streamlit without the legacy mode: nothing to do
    PagesManager = None


def ensure_routed() -> None:
    """Rerun through app.py when Streamlit's legacy pages/ mode ran this page on its own."""
    if PagesManager is not None and getattr(PagesManager, "uses_pages_directory", False):
        PagesManager.uses_pages_directory = False
        st.rerun()
