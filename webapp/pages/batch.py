"""Batch scoring: upload a CSV, score it with the chosen models, download the predictions; or
validate the models on a labelled CSV from elsewhere."""
import hashlib
import shlex

import numpy as np
import pandas as pd
import streamlit as st

from mhexplain.core.errors import DataError, MhxError
from mhexplain.core.labels import common_labels, display_names
from mhexplain.core.textsafe import escape_markdown
from mhexplain.datasets.csvfile import read_table_upload
from mhexplain.evaluation.external import (
    ONE_CLASS,
    evaluate_rows,
    models_labels,
    own_labels_map,
    prepare_rows,
    upload_metrics,
)
from mhexplain.evaluation.recalibration import before_after_table, fit_variants, recalibration_sentence
from mhexplain.scoring.inputs import TEXT_COLUMN, TITLE_COLUMN, TRUNCATED
from mhexplain.scoring.shift import posts_report, scored_report
from mhexplain.scoring.upload import MAX_ROWS, TARGET_COLUMN, UPLOAD_LIMITS, check_upload, notes_text, score_upload
from mhexplain.settings import MAX_UPLOAD_MB
from mhexplain.trust.recalibration import FOLDS, MIN_SAMPLE
from webapp import ui
from webapp.plots import confusion_heatmap, share_bars, title

MAX_LABEL_VALUES = 30

st.title("Batch scoring")
models = ui.require_models()
chosen = st.multiselect("models", list(models), default=list(models), format_func=title)
ui.dataset_note(ui.model_manifests(chosen))
tab_score, tab_external = st.tabs(["Score posts", "External validation"])


def training_column(names, role: str, default: str) -> str:
    """The column the models' own training file held ``role`` in ("label": ``target`` for the
    Kaggle file), which an upload is expected to use too; ``default`` where the models name several."""
    named = {(man["data"].get("columns") or {}).get(role) or default for man in ui.model_manifests(names).values()}
    return named.pop() if len(named) == 1 else default


def score_tab() -> None:
    label_col = training_column(chosen, "label", TARGET_COLUMN)
    text_col = training_column(chosen, "text", TEXT_COLUMN)
    title_col = training_column(chosen, "title", TITLE_COLUMN)
    sets = {tuple(models[n].labels) for n in chosen}
    k = len(next(iter(sets))) if len(sets) == 1 else 0
    classes = f"one of the models' {k} classes, or its number 0–{k - 1}" if k else "one of the models' classes"
    # the label column's name and the class count come from the models' folder: the name is escaped
    st.markdown(f"Upload a CSV with a “{escape_markdown(text_col)}” column (optional “{escape_markdown(title_col)}”, "
                f"optional label column “{escape_markdown(label_col)}” holding {classes}), as the models' training "
                f"file had them: {UPLOAD_LIMITS}. The download is the file `python -m mhexplain.score` writes for "
                "the same file, columns and models.")
    upload = st.file_uploader("CSV file", key="upload", max_upload_size=MAX_UPLOAD_MB)
    if upload is None or not chosen:
        return
    picked = {n: models[n] for n in chosen}
    bar = st.progress(0.0, text="scoring…")
    try:
        reference = ui.shift_reference_for(chosen)
        result = score_upload(upload.getvalue(), upload.name, picked, progress=bar.progress, label_col=label_col,
                              text_col=text_col, title_col=title_col, reference=reference)
    except MhxError as err:
        bar.empty()
        ui.show_error(err)
        return
    bar.progress(1.0, text="done")
    scored = result.scored
    if notes := notes_text(scored):
        st.warning(escape_markdown(f"Rows with a note: {notes} Rows are numbered as in a spreadsheet (the header "
                                   "is row 1)."))
    ui.table(scored.frame(text_chars=200).head(200))
    st.download_button("Download predictions (CSV)", scored.csv_text(), file_name="predictions.csv", mime="text/csv")
    ui.shift_section(scored_report(scored, reference, ui.training_shares_for(chosen)))
    if unlabelled := result.unlabelled_rows():
        shown = ", ".join(map(str, unlabelled[:10])) + (f" and {len(unlabelled) - 10:,} more" if len(unlabelled) > 10
                                                        else "")
        st.warning(escape_markdown(f"Left out of the metrics: row(s) {shown}, whose {label_col} is blank or none of "
                                   f"the models' classes (nor a class number 0–{len(result.labels) - 1})."))
    if result.labels is None and result.has_label_column:  # predictions are above; one file's metrics compare them
        try:
            common_labels({n: m.labels for n, m in picked.items()}, "compute one file's metrics for")
        except DataError as err:
            ui.show_error(err)
        return
    metrics = upload_metrics(result)
    if metrics:
        file_metrics_section(metrics, label_col, result.labels)


def file_metrics_section(metrics: dict, label_col: str, labels) -> None:
    st.subheader("Metrics on this file")
    over = next(iter(metrics.values()))["averaged_over"]
    classes = f"{len(over)} class" if len(over) == 1 else f"{len(over)} classes"
    ui.table(pd.DataFrame([{"model": n, "posts": m["n_test"], "accuracy": m["accuracy"],
                            f"macro F1 ({classes})": m["macro_f1"], "Cohen's kappa": m["cohen_kappa"]}
                           for n, m in metrics.items()]))
    st.caption(escape_markdown(
        f"Macro F1 is the mean over the {classes} this file's {label_col} holds ({', '.join(over)}); a "
        "class the file lacks is left out of the mean, and a post predicted as one counts as an error."))
    for place, (n, m) in zip(ui.chart_columns(len(metrics), len(labels)), metrics.items()):
        place.plotly_chart(confusion_heatmap(np.asarray(m["confusion_matrix"]), n, False, labels), width="stretch",
                           key=f"bcm-{n}")


def map_labels(values: list[str], labels) -> dict[str, int]:
    """The file's label ``values`` mapped by the visitor onto the models' ``labels`` (class ids); a
    value that is one of the class names (in any case) or numbers starts mapped to it, as
    ``evaluate`` reads a file without --label-map."""
    shown = display_names(labels)
    known = {n.casefold(): k for n, k in own_labels_map(labels).items()}
    mapping = {}
    for i, (v, col) in enumerate(zip(values, st.columns(min(len(values), 5)) * len(values))):
        # options are class ids (None: drop), shown as plain text
        mapping[v] = col.selectbox(escape_markdown(v or "(empty)"), [None, *range(len(labels))],
                                   index=known[v.casefold()] + 1 if v.casefold() in known else 0, key=f"map-{i}",
                                   format_func=lambda c: "(drop)" if c is None else shown[c])
    return {v: c for v, c in mapping.items() if c is not None}


def external_tab() -> None:
    st.markdown("How do the models do on posts from elsewhere? Upload a labelled CSV, say which columns hold the "
                "text and the label, and map its labels to the models' classes (labels left unmapped are "
                "dropped; a label written as one of the classes is mapped to it already). "
                "The same table comes from `python -m mhexplain.evaluate` for files of any size; here: "
                f"{UPLOAD_LIMITS}.")
    upload = st.file_uploader("labelled CSV", key="ext_upload", max_upload_size=MAX_UPLOAD_MB)
    if upload is None or not chosen:
        return
    picked = {n: models[n] for n in chosen}
    try:
        labels = models_labels(picked)  # the file is mapped onto one label set: the models'
    except DataError as err:
        ui.show_error(err)
        return
    try:
        check_upload(upload.name)
        table = read_table_upload(upload.getvalue(), upload.name, MAX_ROWS)
    except MhxError as err:
        ui.show_error(err)
        return
    cols = list(table.columns)
    c1, c2, c3 = st.columns(3)
    # Options are shown as plain text (never as markdown): no escaping, or its backslashes would show.
    text_col = c1.selectbox("text column", cols, key="ext_text")
    title_col = c2.selectbox("title column", [None] + cols, key="ext_title",
                             format_func=lambda c: "(none)" if c is None else c)
    label_col = c3.selectbox("label column", cols, index=len(cols) - 1, key="ext_label")
    values = sorted(table[label_col].str.strip().unique().tolist())
    if len(values) > MAX_LABEL_VALUES:
        ui.show_error(f"The label column has {len(values):,} distinct values; at most {MAX_LABEL_VALUES} can be "
                      "mapped here (use python -m mhexplain.evaluate).")
        return
    label_map = map_labels(values, labels)
    request = (hashlib.sha256(upload.getvalue()).hexdigest(), text_col, title_col, label_col,
               tuple(sorted(label_map.items())), tuple(chosen))
    if st.button("Evaluate", key="ext_go"):
        st.session_state["ext_request"] = request
    if st.session_state.get("ext_request") != request:  # evaluated once asked, until anything changes
        return
    titles = table[title_col] if title_col is not None else [""] * len(table)
    inputs, y, counts = prepare_rows(titles, table[text_col], table[label_col], label_map)
    if not len(y):
        ui.show_error("None of the file's labels is mapped onto the models' classes: map at least one.")
        return
    collected: dict = {}
    results = evaluate_rows(picked, inputs, y, collected)
    st.caption(f"{len(y):,} posts; dropped {counts['unmapped']:,} with unmapped labels and {counts['empty']:,} "
               f"without text; {counts['truncated']:,} {TRUNCATED}.")
    ui.table(pd.DataFrame([{"model": r["model"], "posts": r["n"], "macro F1 (classes present)":
                            r["macro_f1_present_classes"], "ECE": r["ece"], "ECE floor": r["ece_floor"],
                            **{f"recall {k} [95% CI]": f"{v['recall']:.3f} [{v['ci'][0]:.3f}–{v['ci'][1]:.3f}]"
                               for k, v in r["recall"].items()}} for r in results]))
    if any(r["macro_f1_present_classes"] is None for r in results):
        st.caption(ONE_CLASS)
    st.caption("ECE floor: what a perfectly calibrated model would score on as many posts (the binned ECE is "
               "biased upward on a finite sample).")
    st.plotly_chart(share_bars(results, labels), width="stretch", key="ext-share")
    ui.shift_section(posts_report(inputs, collected["proba"], {n: tuple(labels) for n in picked},
                                  ui.shift_reference_for(chosen), ui.training_shares_for(chosen)))
    recalibration_section(picked, collected, upload.name)


def recalibration_section(picked: dict, collected: dict, file_name: str) -> None:
    """Refit each model's temperature and threshold on this file, measured by cross-validation on
    it; visitors see the result, the server's operator saves it (a visitor writes nothing)."""
    st.subheader("Recalibrate to this source")
    st.markdown("Confidence was calibrated on posts like the training data. With at least "
                f"{MIN_SAMPLE} labelled posts of another source, each model's temperature and abstention threshold "
                "can be refitted on them: predictions stay the same, confidences and abstentions change. Whether "
                f"it helps is measured by {FOLDS}-fold cross-validation on this file.")
    if not st.button("Recalibrate on this file", key="ext_recal"):
        return
    try:
        fitted = fit_variants(picked, collected["y"], collected["proba"])
    except MhxError as err:
        ui.show_error(err)
        return
    ui.table(before_after_table(fitted))
    for name, f in fitted.items():
        st.caption(escape_markdown(recalibration_sentence(name, f)))
    st.caption("ECE floor: what a perfectly calibrated model would score on as many posts. To use these "
               "calibrations, the server's operator writes them as a models folder of their own (the models are "
               "left as they are) and adds it to MHX_MODELS_DIR; this page writes nothing:")
    st.code(f"python -m mhexplain.evaluate --models-dir MODELS --data {shlex.quote(file_name)} ... "
            "--recalibrate models-recalibrated", language="bash")


with tab_score:
    score_tab()
with tab_external:
    external_tab()
