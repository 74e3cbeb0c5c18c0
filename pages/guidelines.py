"""Guidelines: recommendations by topic and body with their strength, and bodies side by side on one topic."""

import streamlit as st

from kb import charts
from kb.display import words
from kb.links import doi_url, pubmed_url
from ui import cache, gaps, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
facets = cache.evidence_facets(con)
bodies = cache.guideline_bodies(con)
topics = facets["topics"]

st.title("Guidelines")
st.caption("Recommendations of guidelines and consensus statements, in our own words, with the strength in each "
           "body's own grading system. Read the guideline before acting on a summary.")

with st.container(border=True):
    c1, c2 = st.columns(2)
    chosen_topics = c1.multiselect("Topic", list(topics), format_func=topics.get, key="gl_topic",
                                   default=widgets.param_list("topic", list(topics)))
    chosen_bodies = c2.multiselect("Body", list(bodies), format_func=bodies.get, key="gl_body",
                                   default=widgets.param_list("body", list(bodies)))
    c1, c2 = st.columns(2)
    text = c1.text_input("Words in the recommendation or population", value=widgets.param_text("q"), key="gl_q",
                         max_chars=200, placeholder="e.g. memantine")
    verification = c2.multiselect("Verification", list(facets["verification"]), key="gl_verification",
                                  format_func=facets["verification"].get,
                                  default=widgets.param_list("verification", list(facets["verification"])))
widgets.sync_params(topic=chosen_topics, body=chosen_bodies, q=text.strip(), verification=verification)
active = [name for name, value in (("topic", chosen_topics), ("body", chosen_bodies), ("text", text.strip()),
                                   ("verification", verification)) if value]

with st.spinner("Loading recommendations…"):
    recs = cache.recommendations(con, tuple(chosen_topics), tuple(chosen_bodies), tuple(verification), text.strip())

st.markdown(f"**{len(recs)}** {'recommendation' if len(recs) == 1 else 'recommendations'} from "
            f"{widgets.plural(recs['guideline_id'].nunique(), 'guideline')}")
if recs.empty:
    widgets.empty_state(widgets.no_match_message("recommendation", active))
else:
    widgets.verification_caption(recs["verification"], "recommendations shown")
    st.markdown("**Topic × body** (number of recommendations; click a cell to compare bodies on that topic)")
    event = st.vega_lite_chart(spec=cache.guideline_chart(con, tuple(chosen_topics), tuple(chosen_bodies),
                                                          tuple(verification), text.strip()),
                               width="stretch", on_select="rerun", selection_mode=charts.PICK, key="gl_matrix")
    picked = (event.selection.get(charts.PICK) if event is not None else None) or []

    shown = recs.assign(strength=recs["strength"].fillna("not graded"), doi_link=recs["doi"].map(doi_url),
                        pubmed=recs["pmid"].map(pubmed_url))[
        ["body_short", "recommendation", "strength", "topic", "guideline", "year", "population", "evidence_quality",
         "read_in", "doi_link", "pubmed", "verification"]].rename(columns={
            "topic": "Topic", "body_short": "Body", "guideline": "Guideline", "year": "Year",
            "population": "Population", "recommendation": "Recommendation (our words)", "strength": "Strength",
            "evidence_quality": "Evidence quality", "read_in": "Read in", "doi_link": "DOI", "pubmed": "PubMed",
            "verification": "Verification"})
    widgets.table(shown, "gl_table", ["Body", "Recommendation (our words)", "Strength", "Topic", "Year", "Read in"],
                  csv_name="brainmets_recommendations.csv",
                  column_config={"Year": st.column_config.NumberColumn(format="%d", width="small"),
                                 "Body": st.column_config.TextColumn(width=120)})

    # -------------------------------------------------------------------------------------------- side by side
    st.subheader("Compare bodies on one topic")
    present_topics = list(dict.fromkeys(recs.sort_values("topic")["topic_id"]))
    per_topic = recs.groupby("topic_id")["body"].nunique()
    default_topic = widgets.param_choice("compare", present_topics,
                                         max(present_topics, key=lambda t: (per_topic[t], t == "srs_vs_wbrt")))
    if picked and picked[0].get("topic_id") in present_topics and picked[0]["topic_id"] != st.session_state.get(
            "_gl_last_pick"):
        st.session_state["gl_compare"] = picked[0]["topic_id"]
    st.session_state["_gl_last_pick"] = picked[0].get("topic_id") if picked else None
    if st.session_state.get("gl_compare") not in present_topics:
        st.session_state["gl_compare"] = default_topic
    topic = st.selectbox("Topic", present_topics, format_func=topics.get, key="gl_compare")
    widgets.sync_params(compare=topic)
    on_topic = recs[recs["topic_id"] == topic]
    body_names = list(dict.fromkeys(on_topic["body"]))
    st.caption(f"{widgets.plural(len(on_topic), 'recommendation')} from "
               f"{widgets.plural(len(body_names), 'body', 'bodies')} on “{topics.get(topic, topic)}”.")
    for start in range(0, len(body_names), 3):
        columns = st.columns(3)
        for column, body in zip(columns, body_names[start:start + 3]):
            with column.container(border=True):
                st.markdown(f"**{widgets.escape(bodies.get(body, body))}**")
                for row in on_topic[on_topic["body"] == body].itertuples(index=False):
                    st.caption(f"{widgets.escape(row.guideline)} ({widgets.escape(words(row.year, '{:g}'))}) · "
                               f"strength: {widgets.escape(words(row.strength, '{}', 'not graded'))}"
                               f" · {widgets.badge(row.verification)}")
                    if widgets.present(row.population):
                        st.caption("For: " + widgets.escape(row.population))
                    st.markdown(widgets.escape(row.recommendation))
                    if row.read_in:
                        st.caption(f"[Where this was read](<{row.read_in}>)")

gaps.uncurated_note(con, "guidelines")  # papers on the topic without curated figures
widgets.footer(cache.release_info(con))
