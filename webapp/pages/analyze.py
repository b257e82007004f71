"""Analyze a post: every model's prediction side by side, then LIME/SHAP highlights."""
import pandas as pd
import streamlit as st

from mhexplain.core.classifier import DEFAULT_EXPLAIN_BUDGET, MAX_POST_CHARS, fingerprint
from mhexplain.core.errors import MhxError
from mhexplain.core.labels import display_name
from mhexplain.core.textsafe import escape_markdown
from mhexplain.evaluation.post import below_threshold, compare_post, condition_words_on_top, word_agreement
from mhexplain.scoring.shift import STRANGE_POST, post_sentence
from mhexplain.trust.shortcuts import WordMask
from webapp import ui
from webapp.plots import probability_bars, title

st.title("Analyze a post")
loaded = ui.require_models()
picked = ui.one_label_set({n: m.labels for n, m in loaded.items()}, "analyze_models")
if picked is None:
    st.stop()
models = {n: loaded[n] for n in picked}
labels = next(iter(models.values())).labels
ui.dataset_note(ui.model_manifests(models))


@st.cache_data(show_spinner=False, max_entries=256)
def _predict(fingerprints: tuple, text: str, _models: dict):
    return compare_post(_models, text, ui.shift_reference_for(_models))


results, _ = ui.load_all_results()
examples = next((r.predictions for r in results if r.name in models), pd.DataFrame())
with st.expander("…or pick a post from the test set"):
    if not examples.empty:
        options = list(range(min(200, len(examples))))
        pick = st.selectbox("test post", options, format_func=lambda i: f"#{examples['post_id'].iloc[i]} "
                            f"({display_name(labels[examples['true_label'].iloc[i]])}): "
                            f"{examples['text'].iloc[i][:80]}", index=None, key="example")
        if pick is not None and st.button("Use this post"):
            st.session_state["post"] = examples["text"].iloc[pick]
text = st.text_area("Post (title and body)", key="post", height=160, max_chars=MAX_POST_CHARS,
                    placeholder="Paste a post here…")
if st.button("Analyze", type="primary") or st.session_state.get("analyzed") == text:
    if not text.strip():
        ui.show_error("The post is empty: paste some text first.")
        st.stop()
    st.session_state["analyzed"] = text
    try:
        comp = _predict(tuple(fingerprint(m) for m in models.values()), text, models)
    except MhxError as err:
        ui.show_error(err)
        st.stop()
    if comp.note:
        st.caption(escape_markdown(f"The models read this post {comp.note}, as they do a row of a file."))
    for col, (name, p) in zip(st.columns(len(comp.proba)), comp.proba.items()):
        guess = display_name(comp.labels[int(p.argmax())])
        if comp.uncertain[name]:  # below the threshold chosen on validation data: no bare class
            col.metric(title(name), "uncertain", f"best guess {guess}, "
                       f"{below_threshold(p.max(), comp.thresholds[name])}", delta_color="off")
        else:
            col.metric(title(name), guess, f"calibrated confidence {p.max():.3f}", delta_color="off")
    for sentence in comp.answered_sentences():
        st.caption(sentence)
    all_agree, verdict = comp.verdict()
    (st.success if all_agree else st.warning)(escape_markdown(verdict))
    if comp.typicality is not None:
        (st.warning if comp.typicality < STRANGE_POST else st.caption)(post_sentence(comp.typicality))
    st.plotly_chart(probability_bars(comp.proba, comp.labels), width="stretch")

    st.subheader("Why? Word attributions")
    c1, c2, c3 = st.columns(3)
    method = c1.radio("method", ["shap", "lime"], horizontal=True, format_func=str.upper)
    # options are class ids (None: the predicted class); shown as plain text, so never escaped
    target = c2.selectbox("explain the class", [None, *range(len(comp.labels))], key="explain_class",
                          format_func=lambda c: "predicted class" if c is None else display_name(comp.labels[c]))
    budget = c3.select_slider("model evaluations (budget)", ["model default", 100, 250, 500, 1000, 2000],
                              value="model default",
                              help=f"Default: each model's own budget ({DEFAULT_EXPLAIN_BUDGET:,} unless a model "
                                   "sets another). SHAP needs about 2 per word and stops when its word tree is "
                                   "done; LIME uses the whole budget.")
    budget = None if budget == "model default" else int(budget)
    if st.button("Explain with every model"):
        st.session_state["explain_req"] = (text, method, target, budget)
    if st.session_state.get("explain_req") == (text, method, target, budget):
        # what the models read (cleaned as a file's rows are), so the explanation is of their prediction
        done = ui.explain_columns(models, comp.text, method, target, budget, downloads=True)
        for name, words in condition_words_on_top(done, WordMask.for_labels(comp.labels)).items():
            st.caption(f"{title(name)}'s top words include {escape_markdown(', '.join(words))}: words that name a "
                       "class. The model may be reading the label's name (for the Kaggle file, the subreddit's), "
                       "not the post (see the shortcut probe on the Compare page, and models trained with "
                       "--mask-words).")
        agreement = word_agreement(done)
        if agreement is not None:
            st.caption("Do the models rely on the same words? Rank agreement of their attributions over the "
                       "words both models see: Spearman, and the overlap of their top k words (k is 5, or the "
                       "number of words the two share when that is fewer).")
            ui.table(agreement)
