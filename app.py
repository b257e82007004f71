"""mhexplain's Streamlit front door: `streamlit run app.py`."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from mhexplain.artifacts import default_models_dir
from mhexplain.registry import discover

st.set_page_config(page_title="mhexplain", layout="wide")
st.title("mhexplain")
st.caption("A research tool trained on subreddit labels — not a diagnosis. "
           "In crisis? Contact local emergency services or see https://findahelpline.com")

models_dir = default_models_dir()
infos = discover(models_dir)
rows = []
for m in infos:
    if m.ok:
        met = m.manifest.get("metrics", {})
        rows.append({"model": m.name, "protocol": m.manifest["split"]["protocol"],
                     "macro-F1": met.get("macro_f1"), "accuracy": met.get("accuracy"),
                     "trained": m.manifest.get("created")})
if rows:
    st.dataframe(pd.DataFrame(rows), hide_index=True)
missing = [m for m in infos if not m.ok]
for m in missing:
    st.info(f"{m.name}: {m.error}")
if not rows:
    st.warning(f"No trained models in {models_dir}. Train them with: python -m train --data PATH")
