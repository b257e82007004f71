"""mhexplain's front door: `streamlit run app.py`. The frame only: navigation, sidebar, note."""
from __future__ import annotations

import streamlit as st

from mhexplain import ui

st.set_page_config(page_title="mhexplain", page_icon=":material/explore:", layout="wide")

PAGES = [
    st.Page("app_pages/overview.py", title="Overview", icon=":material/dashboard:", default=True),
    st.Page("app_pages/analyze.py", title="Analyze a post", icon=":material/search:"),
    st.Page("app_pages/compare.py", title="Compare models", icon=":material/bar_chart:"),
    st.Page("app_pages/errors.py", title="Error explorer", icon=":material/bug_report:"),
    st.Page("app_pages/batch.py", title="Batch scoring", icon=":material/upload_file:"),
]
page = st.navigation(PAGES)
ui.sidebar()
st.info(ui.RESPONSIBLE_USE, icon=":material/info:")
ui.run_page(page)
