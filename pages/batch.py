"""Batch scoring: upload a CSV, score it with the chosen models, download the predictions."""
import numpy as np
import streamlit as st

from mhexplain import ui
from mhexplain.batch import MAX_ROWS, file_metrics, parse_upload, predictions_csv, score, skipped_text
from mhexplain.errors import MhxError
from mhexplain.plots import confusion_heatmap
from mhexplain.settings import MAX_UPLOAD_MIB

st.title("Batch scoring")
models = ui.require_models()
st.markdown(f"Upload a CSV with a `text` column (optional `title`, optional `target` 0–4). "
            f"Limits: {MAX_UPLOAD_MIB} MiB and {MAX_ROWS:,} rows.")
chosen = st.multiselect("models", list(models), default=list(models))
upload = st.file_uploader("CSV file", type=["csv"], key="upload", max_upload_size=MAX_UPLOAD_MIB)
if upload is not None and chosen:
    try:
        parsed = parse_upload(upload.getvalue(), upload.name)
    except MhxError as err:
        ui.show_error(err)
        st.stop()
    df = parsed.frame
    if parsed.skipped:
        st.warning(ui.escape_markdown(f"Skipped {len(parsed.skipped):,} row(s): {skipped_text(parsed.skipped)} "
                                      "Rows are numbered as in a spreadsheet (the header is row 1)."))
    bar = st.progress(0.0, text=f"scoring {len(df):,} posts…")
    try:
        scored = score(df, {n: models[n] for n in chosen}, progress=lambda f: bar.progress(f))
    except MhxError as err:
        ui.show_error(err)
        st.stop()
    bar.progress(1.0, text="done")
    st.dataframe(scored.head(200), hide_index=True, width="stretch")
    st.download_button("Download predictions (CSV)", predictions_csv(scored), file_name="predictions.csv",
                       mime="text/csv")
    metrics = file_metrics(df, scored, chosen)
    if metrics:
        st.subheader("Metrics on this file")
        st.dataframe([{"model": n, "accuracy": m["accuracy"], "macro F1": m["macro_f1"],
                       "Cohen's kappa": m["cohen_kappa"]} for n, m in metrics.items()], hide_index=True)
        cols = st.columns(len(metrics))
        for col, (n, m) in zip(cols, metrics.items()):
            col.plotly_chart(confusion_heatmap(np.asarray(m["confusion_matrix"]), n, False), width="stretch",
                             key=f"bcm-{n}")
