"""Releases: the version this page shows (to cite), its download bundle, and what changed between two releases."""

import streamlit as st

from ui import cache, routing, widgets

routing.ensure_routed()  # first request after a server start may arrive here without app.py

con = cache.connection()
release = cache.release_info(con)
release_id = release.get("release_id", "unpublished")
published = str(release.get("published_at") or "")[:10]

st.title("Releases")
st.markdown(f"You are reading release **{widgets.escape(release_id)}**. Every page footer and every export names "
            "it; a paper that used the KB should cite it, so readers can open exactly the same data.")
st.code(f"BrainMets KB, release {release_id} ({published}).", language=None, wrap_lines=True)

st.subheader("Download this release")
st.markdown("One zip: the DuckDB file, one Parquet and one CSV file per table, the sources as CSL-JSON, and a "
            "manifest with the row counts and the SHA-256 of every file.")
path = cache.release_path(con)
st.download_button("Download the release bundle (zip)", data=lambda: cache.bundle_zip(str(path)),
                   file_name=f"brainmets-kb-{release_id}.zip", mime="application/zip",
                   icon=":material/download:", key="bundle")

st.subheader("What changed")
kept = cache.kept_releases()
ids = list(kept)
if len(ids) < 2:
    widgets.empty_state("Only one release is kept here so far: changes show once an edit has been accepted.")
else:
    newer_default = release_id if release_id in kept else ids[0]
    c1, c2 = st.columns(2)
    newer = c2.selectbox("Newer release", ids, key="to",
                         index=ids.index(widgets.param_choice("to", ids, newer_default)))
    older_ids = ids[ids.index(newer) + 1:] or ids[-1:]
    older = c1.selectbox("Older release", older_ids, key="from",
                         index=older_ids.index(widgets.param_choice("from", older_ids, older_ids[0])))
    widgets.sync_params(**{"from": older, "to": newer})
    changed = cache.release_changes(str(kept[older]), str(kept[newer]))
    if changed.empty:
        widgets.empty_state("No record differs between these two releases.")
    else:
        st.caption(f"{widgets.plural(len(changed), 'record')} added, changed or retired, with the reason each change "
                   "was accepted for.")
        st.dataframe(changed, hide_index=True, width="stretch")
        widgets.download_csv(changed, f"brainmets_changes_{older}_to_{newer}.csv", key="changes_csv")
    st.caption(f"The last {len(ids)} releases are kept on this server; every release's bundle lists its own "
               "content.")

widgets.footer(release)
