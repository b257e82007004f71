"""Compare models: confusion matrices, precision–recall per class, errors per class, tests."""
import pandas as pd
import streamlit as st

from mhexplain.core.textsafe import escape_markdown
from mhexplain.evaluation.compare import (
    confusion,
    leakage_report,
    misclassified_per_class,
    operating_points,
    pairwise_tests,
    per_class_table,
    pr_points,
    shared_posts_note,
    summary_table,
)
from mhexplain.evaluation.probe import table as probe_table
from mhexplain.trust.shortcuts import CONDITION_WORDS
from webapp import ui
from webapp.plots import (
    confusion_heatmap,
    coverage_plot,
    misclassification_bars,
    pr_scatter,
    probe_bars,
    reliability_diagram,
)

st.title("Compare models")
results = ui.require_results()

note = shared_posts_note(results)
if note:
    st.info(escape_markdown(note), icon=":material/rule:")
ui.table(summary_table(results))
# Counts from test sets of different sizes cannot be set side by side; rates can.
normalise = st.toggle("row-normalised confusion matrices", value=note is not None)
cols = st.columns(len(results))
for col, r in zip(cols, results):
    col.plotly_chart(confusion_heatmap(confusion(r, normalise), r.name, normalise), width="stretch",
                     key=f"cm-{r.name}")
st.plotly_chart(pr_scatter(pr_points(results)), width="stretch")
st.plotly_chart(misclassification_bars(misclassified_per_class(results)), width="stretch")
st.subheader("How far can the confidence be trusted?")
st.caption("Every confidence in this app is calibrated: temperature scaling fitted on data the test set never "
           "touches (out-of-fold training predictions for NB/LR, the validation slice for BERT). It never changes "
           "a predicted class. ECE: the gap between confidence and accuracy, averaged over 15 bins (0 is perfect).")
st.plotly_chart(reliability_diagram(results), width="stretch")
points = operating_points(results)
st.plotly_chart(coverage_plot(results, points), width="stretch")
ui.table(points)
st.caption("Each model abstains (the Analyze page says \"uncertain\") below a threshold chosen on validation data "
           "for the target accuracy on the posts it answers; here is what that threshold does on the test set.")
st.subheader("Do the models lean on the condition's name?")
words = escape_markdown(", ".join(CONDITION_WORDS))  # the list the probe uses, whatever it grows to
st.caption(f"The shortcut probe deletes the words that name a condition ({words}) "
           "from every test post, and as a control the same number of random other words. A large drop means the "
           "score rests on the subreddit's name. Also from the command line: `python -m mhexplain.probe`.")
if st.button("Run the shortcut probe") or st.session_state.get("probe_shown"):
    st.session_state["probe_shown"] = True
    probe_results, probe_errors = ui.shortcut_probe()
    ui.missing_models_notice(probe_errors, "Not probed")
    if not probe_results:
        st.warning("No model of this folder could be probed.")
    else:
        st.plotly_chart(probe_bars(probe_results), width="stretch")
        ui.table(pd.DataFrame(probe_table(probe_results)))
        r0 = probe_results[0]
        st.caption(f"{r0['posts_with_condition_word']:,} of {r0['n_posts']:,} test posts name a condition "
                   f"({r0['condition_words_per_post']:.2f} such words per post).")
st.subheader("Per-class F1")
ui.table(per_class_table(results, "f1"), hide_index=False)
if len(results) > 1:
    st.subheader("Are the differences real? McNemar's test and agreement between models")
    ui.table(pairwise_tests(results))
    st.caption("McNemar's test compares two models' right/wrong answers on the test posts both were tested on "
               "(exact binomial below 25 discordant posts, else χ² with continuity correction). The macro-F1 "
               "difference has a 95% interval from 1,000 paired bootstrap resamples of those posts: an interval "
               "that contains 0 means the test set cannot tell the two apart.")

st.subheader("The leakage report: the same models under the other protocol")
others = [d for d in ui.settings().models_dirs if d != ui.models_dir()]
if not others:
    st.caption("Configure a second models folder to see this: for example train with "
               "`python -m train --data PATH --protocol reference --out models-reference` and start the app with "
               "`MHX_MODELS_DIR=models:models-reference`.")
else:
    other = st.selectbox("compare with the models in", others, format_func=str, key="leak_folder")
    other_results, _ = ui.load_all_results(other)
    report = leakage_report(results, other_results)
    if report.empty:
        st.caption("That folder has none of these models.")
    else:
        ui.table(report)
        st.caption("Under the reference notebook's random split, test posts with a verbatim copy in training are "
                   "scored as if new; accuracy on them against the rest shows what that leak adds.")
