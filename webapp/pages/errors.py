"""Error explorer: the test set as a filterable table; pick a post to see it and its explanations."""
import streamlit as st

from mhexplain.core.labels import display_names
from mhexplain.core.textsafe import escape_markdown
from mhexplain.evaluation.compare import shared_posts_note
from mhexplain.evaluation.explorer import FILTERS, explorer_table, filter_table
from webapp import ui

st.title("Error explorer")
results = ui.comparable_results("errors_models")
table = explorer_table(results)
if note := shared_posts_note(results):
    st.info(escape_markdown(note), icon=":material/rule:")
if table.empty:
    st.warning("No test post was scored by every model: there is nothing to set side by side.")
    st.stop()
c1, c2, c3 = st.columns([2, 2, 3])
flag = c1.selectbox("show", FILTERS, key="flag")
# None is "any class" (a class may be named "any"); names are shown as plain text, never as markdown
true_class = c2.selectbox("true class", [None, *display_names(results[0].labels)], key="true_class",
                          format_func=lambda c: "any class" if c is None else c)
search = c3.text_input("text contains", key="search")
view = filter_table(table, flag, true_class, search)
shared = " shared by every model (each was tested on other posts too: see the note above)" if note else ""
st.caption(f"{len(view):,} of {len(table):,} test posts{shared}")
shown = view.drop(columns=["_true"]).assign(text=view["text"].str.slice(0, 120))
event = ui.table(shown, on_select="rerun", selection_mode="single-row", key="table")
rows = event.selection.rows if event and event.selection else []
# Selecting a table row opens the post; so does picking its id (keyboard-friendly).
picked_post = st.selectbox("open post #", view["post_id"].tolist(), index=None, key="open_post",
                           placeholder="select a row above, or pick a post id")
if rows or picked_post is not None:
    row = view.iloc[rows[0]] if rows else view[view["post_id"] == picked_post].iloc[0]
    st.subheader(escape_markdown(f"Post #{row['post_id']} — true class {row['true class']}"))
    st.text(row["text"])  # plain text: never interpreted as markup
    models, _ = ui.load_models()
    method = st.radio("explain with", ["shap", "lime"], horizontal=True, format_func=str.upper, key="err_method")
    if st.button("Explain this post"):
        ui.explain_columns({n: m for n, m in models.items() if n in {r.name for r in results}}, row["text"], method)
