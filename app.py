"""mhexplain's front door: `streamlit run app.py`. The frame only: navigation, sidebar, note."""
from __future__ import annotations

import streamlit as st

from mhexplain import ui

st.set_page_config(page_title="mhexplain", page_icon="🧭", layout="wide")

PAGES = [
    st.Page("pages/overview.py", title="Overview", icon="📋", default=True),
    st.Page("pages/analyze.py", title="Analyze a post", icon="🔍"),
    st.Page("pages/compare.py", title="Compare models", icon="📊"),
    st.Page("pages/errors.py", title="Error explorer", icon="🧪"),
    st.Page("pages/batch.py", title="Batch scoring", icon="📄"),
]
page = st.navigation(PAGES)
ui.sidebar()
st.info(ui.RESPONSIBLE_USE, icon="ℹ️")
page.run()
