"""mhexplain's front door: `streamlit run app.py`. The frame only: navigation, sidebar, note."""
from __future__ import annotations

import streamlit as st

from webapp import ui

st.set_page_config(page_title="mhexplain", page_icon=":material/explore:", layout="wide")

PAGES = [
    st.Page("webapp/pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("webapp/pages/analyze.py", title="Analyze a post", icon=":material/search:"),
    st.Page("webapp/pages/compare.py", title="Compare models", icon=":material/bar_chart:"),
    st.Page("webapp/pages/errors.py", title="Error explorer", icon=":material/bug_report:"),
    st.Page("webapp/pages/batch.py", title="Batch scoring", icon=":material/upload_file:"),
]
page = st.navigation(PAGES)
ui.sidebar()
st.info(ui.RESPONSIBLE_USE, icon=":material/info:")
ui.run_page(page)
