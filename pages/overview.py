"""Overview: dataset summary, metrics of every trained model, model cards."""
import logging

import pandas as pd
import streamlit as st

from mhexplain import ui
from mhexplain.compare import summary_table
from mhexplain.data import default_data_path
from mhexplain.labels import DISPLAY_NAMES

st.title("mhexplain — overview")
results, errors = ui.load_all_results()

if not results:
    ui.no_models_help()
    st.subheader("Train the classical models here")
    with st.form("train"):
        path = st.text_input("CSV path (the Kaggle 'Reddit Mental Health Data' file)", value=default_data_path(),
                             key="train_csv")
        go = st.form_submit_button("Train Naive Bayes + Logistic Regression")
    if go:
        from mhexplain.errors import MhxError
        from train.__main__ import parse_args, run

        bar = st.progress(0.0, text="starting…")
        stages = ["reading", "preprocessing", "fitting", "nb:", "lr:"]

        class _Progress(logging.Handler):
            def emit(self, record):
                msg = record.getMessage()
                for i, s in enumerate(stages):
                    if msg.startswith(s):
                        bar.progress((i + 1) / len(stages), text=msg[:90])

        handler = _Progress()
        log = logging.getLogger("mhexplain.train")
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        try:
            if not path.strip():
                st.error("Give the path of the CSV file.")
            else:
                run(parse_args(["--data", path.strip(), "--out", str(ui.models_dir())]))
                bar.progress(1.0, text="done")
                st.success("Trained. Reloading…")
                st.cache_data.clear()
                st.rerun()
        except MhxError as err:
            st.error(str(err))
        finally:
            log.removeHandler(handler)
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
st.caption(f"Protocol **{sp['protocol']}**, split seed {sp['seed']}; empty bodies {c['empty_bodies']}, bodies with "
           f"HTML entities {c['html_entity_bodies']}, texts with conflicting labels {c['conflicting_label_texts']} "
           f"({c['conflicting_label_rows_dropped']} rows dropped).")
test_counts = results[0].predictions["true_label"].value_counts().reindex(range(len(DISPLAY_NAMES)), fill_value=0)
per_class = pd.DataFrame({"test posts": test_counts.to_numpy()}, index=list(DISPLAY_NAMES))
if c.get("posts_per_class"):
    per_class.insert(0, "posts after cleaning", c["posts_per_class"])
st.dataframe(per_class.T, width="stretch")

st.subheader("Test-set metrics")
st.dataframe(summary_table(results), hide_index=True, width="stretch",
             column_config={k: st.column_config.NumberColumn(format="%.3f") for k in
                            ("accuracy", "macro precision", "macro recall", "macro F1", "Cohen's kappa")})
if len({r.manifest["split"]["test_post_ids_sha256"] for r in results}) > 1:
    st.warning("These models were not scored on the same test posts (different protocol, seed or data).")

st.subheader("Model cards")
for r in results:
    man = r.manifest
    with st.expander(f"{r.name}: macro-F1 {r.metrics['macro_f1']:.3f}", expanded=False):
        st.json({"kind": man["kind"], "params": man["params"], "train_seconds": man["train_seconds"],
                 "created": man["created"], "data": man["data"], "versions": man["versions"]}, expanded=False)
