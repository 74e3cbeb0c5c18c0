"""BrainMets KB — entry point. Routes only: page config, the page list, the shared sidebar."""

from pathlib import Path

import streamlit as st

HERE = Path(__file__).parent

# An emoji favicon is drawn locally; a ":material/…:" one is fetched from fonts.gstatic.com on every page load.
st.set_page_config(page_title="BrainMets KB", page_icon="🧠", layout="wide")

PAGES = {
    "Knowledge base": [
        st.Page(HERE / "pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page(HERE / "pages/sources.py", title="Sources", icon=":material/menu_book:", url_path="sources"),
        st.Page(HERE / "pages/search.py", title="Search", icon=":material/search:", url_path="search"),
        st.Page(HERE / "pages/releases.py", title="Releases", icon=":material/history:", url_path="releases"),
    ],
    "Evidence": [
        st.Page(HERE / "pages/dashboard.py", title="Evidence dashboard", icon=":material/monitoring:",
                url_path="dashboard"),
        st.Page(HERE / "pages/explorer.py", title="Trial explorer", icon=":material/table_view:", url_path="explorer"),
        st.Page(HERE / "pages/dosing.py", title="Dosing and fractionation", icon=":material/calculate:",
                url_path="dosing"),
        st.Page(HERE / "pages/toxicity.py", title="Drug–SRS toxicity", icon=":material/medication:",
                url_path="toxicity"),
        st.Page(HERE / "pages/guidelines.py", title="Guidelines", icon=":material/gavel:", url_path="guidelines"),
        st.Page(HERE / "pages/imaging.py", title="Imaging", icon=":material/radiology:", url_path="imaging"),
        st.Page(HERE / "pages/patient.py", title="Evidence for a patient", icon=":material/person_search:",
                url_path="patient"),
    ],
    "Editors": [
        st.Page(HERE / "pages/editor.py", title="Editor workspace", icon=":material/edit_note:", url_path="editor"),
    ],
}

page = st.navigation(PAGES)
with st.sidebar:
    st.caption("Research and education tool — not medical advice.")
page.run()
