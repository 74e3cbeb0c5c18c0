"""Search: fuzzy, as-you-type search of the sources and their studies; pick results and export them."""

import streamlit as st

from kb import citations
from kb.search import views_frame
from ui import cache, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
facets = cache.search_facets(con)
lo, hi = facets["year_min"], facets["year_max"]
LIMITS = [20, 50, 100]

st.title("Search")
st.caption("Authors, title words, trial acronyms (N0574, NRG CC001), NCT numbers, DOIs, PMIDs or drugs — typos, "
           "accents and abbreviations (T-DM1, SRS, WBRT, LITT…) are fine. Results update as you type.")

# Widgets keep stable keys, seeded once from the URL: a default that followed the URL would make a new widget
# (and drop the cursor) at every keystroke.
shown_n = widgets.param_int("n", LIMITS[0])
for key, value in (("search_q", widgets.param_text("q")),
                   ("search_years", (widgets.param_int("from", lo, lo, hi), widgets.param_int("to", hi, lo, hi))),
                   ("search_types", widgets.param_list("type", list(facets["pub_types"]))),
                   ("search_histologies", widgets.param_list("histology", list(facets["histologies"]))),
                   ("search_n", shown_n if shown_n in LIMITS else LIMITS[0])):
    st.session_state.setdefault(key, value)

query = st.text_input("Search the sources", key="search_q", max_chars=200, type="search", live="250ms",
                      placeholder="e.g. minitti 3x9 gy · Perez Garcia · hippocampal memantine")
filtered = bool(st.session_state["search_types"] or st.session_state["search_histologies"]
                or tuple(st.session_state["search_years"]) != (lo, hi))
with st.expander("Filters" + (" (active)" if filtered else ""), expanded=filtered):
    c1, c2, c3, c4 = st.columns([3, 3, 3, 1])
    years = c1.slider("Year", lo, hi, key="search_years")
    types = c2.multiselect("Publication type", list(facets["pub_types"]), key="search_types",
                           format_func=facets["pub_types"].get)
    histologies = c3.multiselect("Histology (via linked studies)", list(facets["histologies"]),
                                 key="search_histologies", format_func=facets["histologies"].get)
    limit = c4.selectbox("Show", LIMITS, key="search_n")

text = query.strip()
widgets.sync_params(q=text, **{"from": years[0] if years[0] != lo else None, "to": years[1] if years[1] != hi else None,
                               "type": types, "histology": histologies, "n": limit if limit != 20 else None})

picked: list[str] = st.session_state.setdefault("search_picked", [])


def toggle(source_id: str) -> None:
    if st.session_state.get("pick_" + source_id):
        if source_id not in picked:
            picked.append(source_id)
    elif source_id in picked:
        picked.remove(source_id)


def pick_all(source_ids: list[str]) -> None:
    for source_id in source_ids:
        st.session_state["pick_" + source_id] = True
        if source_id not in picked:
            picked.append(source_id)


if not text:
    st.info("Start typing to search the bibliography.", icon=":material/search:")
    results = []
else:
    results = cache.search_results(con, text, years[0] if years[0] != lo else None,
                                   years[1] if years[1] != hi else None, tuple(types), tuple(histologies), limit)
    if not results:
        widgets.empty_state(f"No source matches “{widgets.escape(text)}”" + (
            " with these filters — clear the publication type, histology or year filters."
            if types or histologies or years != (lo, hi) else " — try fewer or other words."))
    else:
        head, button = st.columns([5, 1])
        head.markdown(f"**{len(results)}** {'match' if len(results) == 1 else 'best matches'} for "
                      f"“{widgets.escape(text)}”, best first"
                      + (" (more with *Show* under Filters)" if len(results) == limit and limit < LIMITS[-1] else ""))
        button.button("Select all shown", icon=":material/done_all:", on_click=pick_all,
                      args=([hit["source_id"] for hit in results],))
        for rank, hit in enumerate(results, start=1):
            sid = hit["source_id"]
            with st.container(border=True):
                left, right = st.columns([1, 24])
                st.session_state.setdefault("pick_" + sid, sid in picked)
                left.checkbox("Select", key="pick_" + sid, on_change=toggle, args=(sid,), label_visibility="collapsed")
                right.markdown(f"**{rank}.** {hit['title_md']}")
                right.markdown(" · ".join(part for part in (hit["authors_md"], hit["where_md"]) if part))
                details = [widgets.badge(hit["verification"]), widgets.escape(hit["pub_type"].replace("_", " "))]
                if hit["study_md"]:
                    details.append("Study: " + hit["study_md"])
                details += [f"[{widgets.escape(label)}]({url})" for label, url in hit["links"]]
                right.caption(" · ".join(details))
        widgets.download_csv(views_frame(results), "brainmets_search.csv", label="Download these results (CSV)")

st.divider()
st.subheader(f"Selection ({widgets.plural(len(picked), 'source')})")
if not picked:
    st.caption("Tick results to collect them here, across searches; then export them to Zotero, EndNote or Mendeley.")
else:
    documents, _, _ = cache.search_corpus(con)
    records = documents[documents["source_id"].isin(picked)].to_dict("records")
    st.caption(", ".join(widgets.escape(f"{r['first_author']} {r['year']}") for r in records))
    cols = st.columns(len(citations.FORMATS) + 1)
    for col, (key, (label, ext, mime, export)) in zip(cols, citations.FORMATS.items()):
        col.download_button(label, export(records, release_id=cache.current_release_id()).encode("utf-8"),
                            file_name=widgets.stamped(f"brainmets_selection.{ext}"),
                            mime=mime, icon=":material/download:", key="export_" + key)
    if cols[-1].button("Clear selection", icon=":material/close:"):
        for sid in list(picked):
            st.session_state.pop("pick_" + sid, None)
        picked.clear()
        st.rerun()

widgets.footer(cache.release_info(con))
