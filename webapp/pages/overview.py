"""Overview: what each model was trained on, metrics of every trained model, model cards."""
import pandas as pd
import streamlit as st

from mhexplain.core.labels import display_names
from mhexplain.core.textsafe import escape_markdown
from mhexplain.evaluation.compare import shared_posts_note, summary_table
from webapp import ui


def data_section(r, k: int) -> None:
    """The data one model (and every model trained on the same file and split) was trained and tested on."""
    man = r.manifest
    c, sp = man["cleaning"], man["split"]
    cols = st.columns(5)
    cols[0].metric("posts read", f"{c['rows_read']:,}")
    cols[1].metric("kept after cleaning", f"{c['rows_kept']:,}")
    cols[2].metric("duplicate copies dropped", f"{c['duplicate_copies_dropped']:,}")
    cols[3].metric("train / test", f"{sp['n_train']:,} / {sp['n_test']:,}")
    cols[4].metric("train/test overlap", sp["train_test_overlap"])
    grouping = sp.get("grouping")
    by = (man["data"].get("columns") or {}).get("group")
    grouped = (f" Split by {by}: {grouping['groups']:,} groups, {grouping['groups_in_both']:,} of them on both "
               "sides." if grouping else "")
    copies = c.get("test_copies_of_train_dropped", 0)
    st.caption(escape_markdown(
        f"Protocol {sp['protocol']}, split seed {sp['seed']}; empty bodies {c['empty_bodies']}, bodies with HTML "
        f"entities {c['html_entity_bodies']}, texts with conflicting labels {c['conflicting_label_texts']} "
        f"({c['conflicting_label_rows_dropped']} rows dropped)"
        + (f", test posts copying a training post {copies} (dropped)" if copies else "") + "." + grouped))
    labels = r.labels
    counts = man["data"].get("class_counts")
    # a table, not a chart: the Overview is the first page a visitor sees, and importing the
    # plotting library would add about a second to it
    if counts:
        per_class = pd.DataFrame({split: [counts.get(split, {}).get(lab, 0) for lab in labels]
                                  for split in ("train", "test")}, index=display_names(labels))
        per_class.columns = ["training posts", "test posts"]
    else:  # a folder trained before the dataset was recorded: the test posts are all it tells
        test = r.predictions["true_label"].value_counts().reindex(range(len(labels)), fill_value=0)
        per_class = pd.DataFrame({"test posts": test.to_numpy()}, index=display_names(labels))
    # five classes read best across; twenty down
    ui.table(per_class.T if len(labels) <= 8 else per_class, hide_index=False)


st.title("mhexplain — overview")
results, errors = ui.load_all_results()

if not results:
    ui.no_models_help()
    if ui.settings().allow_training:
        ui.train_here()
    st.stop()

ui.missing_models_notice(errors)
ui.dataset_note({r.name: r.manifest for r in results})
# Models of one folder may come from several datasets (or splits): one data section for each.
datasets = {}
for r in results:
    datasets.setdefault((r.dataset, r.manifest["data"]["sha256"], r.manifest["split"].get("test_post_ids_sha256")),
                        r)
for k, r in enumerate(datasets.values()):
    st.subheader("Data" if len(datasets) == 1 else escape_markdown(f"Data: {r.dataset}"))
    data_section(r, k)

st.subheader("Test-set metrics")
summary = summary_table(results)
if len(datasets) > 1:
    summary.insert(1, "dataset", [r.dataset for r in results])
ui.table(summary)
# which test posts the models share is a question for models of one label set (Compare refuses others)
note = shared_posts_note(results) if len({r.labels for r in results}) == 1 else None
if note:
    st.warning(escape_markdown(note))

st.subheader("Model cards")
for r in results:
    man = r.manifest
    with st.expander(f"{r.name}: macro-F1 {r.metrics['macro_f1']:.3f}", expanded=False):
        st.json({"kind": man["kind"], "labels": man["labels"], "params": man["params"],
                 "train_seconds": man["train_seconds"], "created": man["created"], "data": man["data"],
                 "versions": man["versions"]}, expanded=False)
