"""BrainMets KB — entry point. Routes only: page config, the page list, the shared sidebar."""

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent

st.set_page_config(page_title="BrainMets KB", page_icon=":material/neurology:", layout="wide")

PAGES = {
    "Knowledge base": [
        st.Page(HERE / "pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page(HERE / "pages/sources.py", title="Sources", icon=":material/menu_book:", url_path="sources"),
    ],
}

page = st.navigation(PAGES)
with st.sidebar:
    st.caption("Research and education tool — not medical advice.")
page.run()
