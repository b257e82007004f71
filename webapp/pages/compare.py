"""Compare models: confusion matrices, precision–recall per class, errors per class, tests,
agreement with human coders, leakage."""
import pandas as pd
import streamlit as st

from mhexplain.core.errors import DataError, MhxError
from mhexplain.core.textsafe import escape_markdown
from mhexplain.evaluation.agreement import agreement_summary
from mhexplain.evaluation.combined import TIMED_POSTS, cascade_curve, combination_table, combined, speeds_here
from mhexplain.evaluation.compare import (
    agreement_table,
    confusion,
    group_leakage,
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
from mhexplain.trust.shortcuts import default_words, parse_words
from webapp import ui
from webapp.plots import (
    cascade_plot,
    confusion_heatmap,
    coverage_plot,
    misclassification_bars,
    pr_scatter,
    probe_bars,
    reliability_diagram,
)


def probe_section(results, picked: list[str]) -> None:
    st.subheader("Do the models lean on the class names?")
    # the list the probe uses for these labels, whatever it grows to
    words = escape_markdown(", ".join(default_words(results[0].labels)))
    st.caption(f"The shortcut probe deletes the words that name a class ({words}) from every test post, and as a "
               "control the same number of random other words. A large drop means the score rests on the class's "
               "name (for the Kaggle file, the subreddit's). Also from the command line: `python -m mhexplain.probe`.")
    if not (st.button("Run the shortcut probe") or st.session_state.get("probe_shown")):
        return
    st.session_state["probe_shown"] = True
    probe_results, probe_errors = ui.shortcut_probe()
    probe_results = [p for p in probe_results if p["model"] in picked]
    ui.missing_models_notice({n: e for n, e in probe_errors.items() if n in picked}, "Not probed")
    if not probe_results:
        st.warning("No model of this folder could be probed.")
        return
    st.plotly_chart(probe_bars(probe_results), width="stretch")
    ui.table(pd.DataFrame(probe_table(probe_results)))
    r0 = probe_results[0]
    st.caption(f"{r0['posts_with_condition_word']:,} of {r0['n_posts']:,} test posts hold a word that names a class "
               f"({r0['condition_words_per_post']:.2f} such words per post).")
    with st.expander("Probe other words: the models' own top words per class"):
        picked_words_section(results, picked)


def picked_words_section(results, picked: list[str]) -> None:
    """Probe any words a reader picks, from each model's most class-typical words (shown for review)."""
    st.caption("The words most typical of the test posts each model assigns to each class (log-odds ratio with "
               "an informative Dirichlet prior, Monroe et al. 2008): the words a model leans on, whatever kind it "
               "is. Words that stand in for a class's name (a medication, an abbreviation) are shortcuts the "
               "default list may miss. Pick any, or type your own, and probe them alone.")
    words = ui.class_words([r for r in results if r.name in picked])
    ui.table(words)
    options = sorted({w for cell in words["words"] for w in cell.split(", ") if w})
    chosen = st.multiselect("words to delete", options, key="probe_words")
    typed = st.text_input("more words (commas or spaces between them; * at the end for every word starting so)",
                          key="probe_typed", max_chars=2000)
    if not st.button("Probe these words", key="probe_words_go"):
        return
    try:
        mask_words = parse_words(" ".join(chosen) + " " + typed)
    except MhxError as err:
        ui.show_error(err)
        return
    found, errors = ui.shortcut_probe(mask_words)
    found = [p for p in found if p["model"] in picked]
    ui.missing_models_notice({n: e for n, e in errors.items() if n in picked}, "Not probed")
    if found:
        st.caption(escape_markdown(f"Deleted: {', '.join(mask_words)}. {found[0]['posts_with_condition_word']:,} "
                                   f"of {found[0]['n_posts']:,} test posts hold one of them."))
        ui.table(pd.DataFrame(probe_table(found)))


def combined_section(results) -> None:
    """Cascades and ensembles: what each costs and gains beside its members."""
    made = combined(results)
    if not made:
        return
    st.subheader("Models that work together")
    ui.table(combination_table(made))
    st.caption("A cascade answers with its first member when that member's calibrated confidence reaches the "
               "routing threshold and sends the other posts to the second; an ensemble averages its members' "
               "calibrated probabilities and is recalibrated. Thresholds and weights were chosen on training posts "
               "the members held out, never on the test posts. Posts per second were measured on the first test "
               "posts when the combination was built, on the machine named.")
    if st.button(f"Time them on this machine ({TIMED_POSTS} test posts each)", key="time_combined"):
        models, errors = ui.load_models()
        ui.missing_models_notice(errors, "Not timed")
        for r in made:
            if r.name in models:
                ui.table(speeds_here(models, r))
    for r in made:
        if r.metrics["combination"]["method"] != "cascade":
            continue
        curve = cascade_curve(r)
        st.plotly_chart(cascade_plot(curve, r.metrics["combination"]["members_alone"]), width="stretch",
                        key=f"cascade-{r.name}")
        st.caption("Each point is a routing threshold chosen to send 0%, 2.5%, … 100% of the held-out training "
                   "posts; the posts per second in the hover are estimated from the members' measured speeds (the "
                   "first reads every post, the second only those routed).")


def _interval(value, ci) -> str:
    if value is None or None in ci:
        return "undefined"
    return f"{value:.2f} (95% interval {ci[0]:.2f} – {ci[1]:.2f})"


def agreement_section(results) -> None:
    """Shown for models trained with coders' labels (``--coder-cols``): is a model as reliable as a
    second coder?"""
    table = agreement_table(results)
    if table.empty:
        return
    st.subheader("Agreement with human coders")
    # κ to two decimals, as its interval beside it (the app's three would print 0.62 as 0.620)
    kappa = "Cohen's κ"
    ui.table(table.assign(**{kappa: [("undefined" if pd.isna(v) else f"{v:.2f}") for v in table[kappa]]}))
    reports = {r.name: r.metrics["coder_agreement"] for r in results if r.metrics.get("coder_agreement")}
    first = next(iter(reports.values()))
    st.caption(escape_markdown(
        f"On the {first['n_items']:,} test posts: Cohen's κ between each pair of coders, and between each model and "
        f"each coder and the coders' majority (1 is perfect agreement, 0 what chance gives). Krippendorff's α "
        f"between the coders: {_interval(first['alpha']['value'], first['alpha']['ci'])}; "
        f"{first['majority']['ties']:,} posts have no majority (a tie, or no coder coded them)."))
    for name, report in reports.items():
        if name in report["models"]:
            st.caption(escape_markdown(agreement_summary(report, name)))


def leakage_section(results) -> None:
    st.subheader("The leakage report")
    grouped = group_leakage(results)
    if not grouped.empty:
        ui.table(grouped)
        st.caption("These models were split by a group column: every post of a group (an author, a thread) is on "
                   "one side of the split, so no group is on both. A split of rows alone would have put the groups "
                   "shown on both sides, and scored those test posts beside their group's training posts.")
    st.markdown("**The same models under the other protocol**")
    others = [d for d in ui.settings().models_dirs if d != ui.models_dir()]
    if not others:
        st.caption("Configure a second models folder to see this: for example train with "
                   "`python -m train --data PATH --protocol reference --out models-reference` and start the app "
                   "with `MHX_MODELS_DIR=models:models-reference`.")
        return
    other = st.selectbox("compare with the models in", others, format_func=str, key="leak_folder")
    other_results, _ = ui.load_all_results(other)
    try:
        report = leakage_report(results, other_results)
    except DataError as err:  # that folder's models were trained on another label set
        ui.show_error(err)
        return
    if report.empty:
        st.caption("That folder has none of these models under another protocol.")
        return
    ui.table(report)
    st.caption("Under the reference notebook's random split, test posts with a verbatim copy in training are "
               "scored as if new; accuracy on them against the rest shows what that leak adds.")


st.title("Compare models")
results = ui.comparable_results("compare_models")
labels = results[0].labels

note = shared_posts_note(results)
if note:
    st.info(escape_markdown(note), icon=":material/rule:")
ui.table(summary_table(results))
# Counts from test sets of different sizes cannot be set side by side; rates can.
normalise = st.toggle("row-normalised confusion matrices", value=note is not None)
for place, r in zip(ui.chart_columns(len(results), len(labels)), results):
    place.plotly_chart(confusion_heatmap(confusion(r, normalise), r.name, normalise, labels), width="stretch",
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
combined_section(results)
probe_section(results, [r.name for r in results])
st.subheader("Per-class F1")
ui.table(per_class_table(results, "f1"), hide_index=False)
if len(results) > 1:
    st.subheader("Are the differences real? McNemar's test and agreement between models")
    ui.table(pairwise_tests(results))
    st.caption("McNemar's test compares two models' right/wrong answers on the test posts both were tested on "
               "(exact binomial below 25 discordant posts, else χ² with continuity correction). The macro-F1 "
               "difference has a 95% interval from 1,000 paired bootstrap resamples of those posts: an interval "
               "that contains 0 means the test set cannot tell the two apart.")
agreement_section(results)
leakage_section(results)
