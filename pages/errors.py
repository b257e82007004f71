"""Error explorer: the test set as a filterable table; pick a post to see it and its explanations."""
import streamlit as st

from mhexplain import ui
from mhexplain.errors import MhxError
from mhexplain.explain import explain
from mhexplain.explorer import FILTERS, explorer_table, filter_table
from mhexplain.labels import DISPLAY_NAMES
from mhexplain.plots import title

st.title("Error explorer")
results, errors = ui.load_all_results()
if not results:
    ui.no_models_help()
    st.stop()
ui.missing_models_notice(errors)
table = explorer_table(results)
c1, c2, c3 = st.columns([2, 2, 3])
flag = c1.selectbox("show", FILTERS, key="flag")
true_class = c2.selectbox("true class", ["any"] + list(DISPLAY_NAMES), key="true_class")
search = c3.text_input("text contains", key="search")
view = filter_table(table, flag, None if true_class == "any" else true_class, search)
st.caption(f"{len(view):,} of {len(table):,} test posts")
shown = view.drop(columns=["_true"]).assign(text=view["text"].str.slice(0, 120))
event = st.dataframe(shown, hide_index=True, width="stretch", on_select="rerun", selection_mode="single-row",
                     key="table")
rows = event.selection.rows if event and event.selection else []
if rows:
    row = view.iloc[rows[0]]
    st.subheader(f"Post #{row['post_id']} — true class {row['true class']}")
    st.text(row["text"])  # plain text: never interpreted as markup
    models, load_errors = ui.load_models()
    method = st.radio("explain with", ["shap", "lime"], horizontal=True, format_func=str.upper, key="err_method")
    if st.button("Explain this post"):
        cols = st.columns(max(1, len(models)))
        for (name, clf), col in zip(models.items(), cols):
            try:
                exp = explain(clf, row["text"], method)
            except MhxError as err:
                col.error(str(err))
                continue
            with col:
                st.markdown(f"**{title(name)}** → {DISPLAY_NAMES[exp.target]} (p={exp.proba.max():.2f})")
                st.html(exp.to_html())  # escaped by Explanation.to_html
