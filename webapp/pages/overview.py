"""Overview: dataset summary, metrics of every trained model, model cards."""
import pandas as pd
import streamlit as st

from mhexplain.core.labels import DISPLAY_NAMES
from mhexplain.core.textsafe import escape_markdown
from mhexplain.evaluation.compare import shared_posts_note, summary_table
from webapp import ui

st.title("mhexplain — overview")
results, errors = ui.load_all_results()

if not results:
    ui.no_models_help()
    if ui.settings().allow_training:
        ui.train_here()
    st.stop()

ui.missing_models_notice(errors)
first = results[0].manifest
c = first["cleaning"]
sp = first["split"]
st.subheader("Data")
cols = st.columns(5)
cols[0].metric("posts read", f"{c['rows_read']:,}")
cols[1].metric("kept after cleaning", f"{c['rows_kept']:,}")
cols[2].metric("duplicate copies dropped", f"{c['duplicate_copies_dropped']:,}")
cols[3].metric("train / test", f"{sp['n_train']:,} / {sp['n_test']:,}")
cols[4].metric("train/test overlap", sp["train_test_overlap"])
st.caption(f"Protocol **{escape_markdown(sp['protocol'])}**, split seed {sp['seed']}; empty bodies "
           f"{c['empty_bodies']}, bodies with HTML entities {c['html_entity_bodies']}, texts with conflicting "
           f"labels {c['conflicting_label_texts']} ({c['conflicting_label_rows_dropped']} rows dropped).")
test_counts = results[0].predictions["true_label"].value_counts().reindex(range(len(DISPLAY_NAMES)), fill_value=0)
per_class = pd.DataFrame({"test posts": test_counts.to_numpy()}, index=list(DISPLAY_NAMES))
if c.get("posts_per_class"):
    per_class.insert(0, "posts after cleaning", c["posts_per_class"])
ui.table(per_class.T, hide_index=False)

st.subheader("Test-set metrics")
ui.table(summary_table(results))
note = shared_posts_note(results)
if note:
    st.warning(escape_markdown(note))

st.subheader("Model cards")
for r in results:
    man = r.manifest
    with st.expander(f"{r.name}: macro-F1 {r.metrics['macro_f1']:.3f}", expanded=False):
        st.json({"kind": man["kind"], "params": man["params"], "train_seconds": man["train_seconds"],
                 "created": man["created"], "data": man["data"], "versions": man["versions"]}, expanded=False)
