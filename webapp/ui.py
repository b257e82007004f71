"""Streamlit pieces shared by the pages: cached loading, the sidebar, the responsible-use note.

Only this module and the pages import streamlit; everything they show comes from the
tested modules beside it.
"""
from __future__ import annotations

import logging
import shlex
import sys
from pathlib import Path

import pandas as pd
import streamlit as st

from mhexplain.artifacts.folder import METRICS, PREDICTIONS, verify_artifact
from mhexplain.artifacts.registry import ModelInfo, discover, load_classifier
from mhexplain.classifiers.catalog import KINDS, combines, models_of, title
from mhexplain.core.classifier import fingerprint
from mhexplain.core.errors import DataError, MhxError
from mhexplain.core.labels import common_labels, display_name
from mhexplain.core.textsafe import escape_markdown
from mhexplain.datasets.csvfile import read_table_upload
from mhexplain.datasets.dataset import DatasetSpec
from mhexplain.evaluation.compare import dataset_caption, load_results
from mhexplain.evaluation.probe import class_words_table, probe_folder
from mhexplain.explain import ExplanationCache, explain
from mhexplain.scoring.shift import shares_table, shift_reference, shift_sentence, training_shares
from mhexplain.scoring.upload import check_upload
from mhexplain.settings import MAX_UPLOAD_MB, ServerSettings
from mhexplain.training.api import run, train_upload
from mhexplain.training.common import planned_stages
from mhexplain.training.config import CombineConfig, TrainConfig
from mhexplain.trust.shift import Reference

logger = logging.getLogger("mhexplain.app")
PROJECT = Path(__file__).resolve().parents[1]
UNEXPECTED = "Something went wrong here; the details are in the server's log."

RESPONSIBLE_USE = ("**Research tool, not a diagnosis.** These models learned the labels of the dataset they were "
                   "trained on (for the Kaggle file, which subreddit a post came from); they say nothing reliable "
                   "about any person. If you or someone you know is in crisis, contact "
                   "local emergency services or find a helpline at [findahelpline.com](https://findahelpline.com).")


def settings() -> ServerSettings:
    return ServerSettings.from_env()


def models_dir() -> Path:
    """The models folder the visitor picked among the operator's configured folders."""
    dirs = settings().models_dirs
    picked = st.session_state.get("models_dir")
    return picked if picked in dirs else dirs[0]


def show_error(err) -> None:
    """A one-line error whose text (file names, column names, posts) is shown literally."""
    st.error(escape_markdown(str(err)), icon=":material/error:")


def show_unexpected(where: str) -> None:
    """Log the exception being handled with its traceback, show the visitor one line."""
    logger.exception("unexpected error in %s", where)
    st.error(UNEXPECTED, icon=":material/error:")


# Every score, share and probability in a table is shown to this many decimals (p-values are
# text from compare.format_p), so no two tables in the app disagree on a number's precision.
DECIMALS = "%.3f"


def table(frame, hide_index: bool = True, **kwargs):
    """``st.dataframe`` with every fractional column at ``DECIMALS``; returns what it returns."""

    config = {str(c): st.column_config.NumberColumn(format=DECIMALS) for c in frame.columns
              if pd.api.types.is_float_dtype(frame[c])}
    return st.dataframe(frame, hide_index=hide_index, width="stretch", column_config=config, **kwargs)


def run_page(page) -> None:
    """Run a page; an exception nobody expected becomes one line on screen and a log entry."""
    try:
        page.run()
    except Exception:  # Streamlit's stop/rerun signals are BaseExceptions and pass through
        show_unexpected(f"page {page.title!r}")


@st.cache_data(show_spinner=False)
def _discover(path: str, stamp: float) -> list[ModelInfo]:
    return discover(Path(path))


def _stamp(path: Path) -> float:
    # Changes whenever a model folder is (re)written, so cached views refresh after training.
    try:
        return max([path.stat().st_mtime] + [p.stat().st_mtime for p in path.iterdir()])
    except OSError:
        return 0.0


def model_infos() -> list[ModelInfo]:
    d = models_dir()
    return _discover(str(d), _stamp(d))


@st.cache_resource(show_spinner="Loading model…")
def _load(path: str, stamp: float):

    return load_classifier(Path(path))


def load_models(infos: list[ModelInfo] | None = None) -> tuple[dict, dict[str, str]]:
    """Loaded classifiers by name, and a one-line error for each model that could not load."""
    loaded, errors = {}, {}
    for m in infos if infos is not None else model_infos():
        if not m.ok:
            errors[m.name] = m.error
            continue
        try:
            # a cascade or an ensemble is loaded anew when a member beside it is retrained, too
            stamp = max(_stamp(m.path), _stamp(m.path.parent)) if combines(m.name) else _stamp(m.path)
            loaded[m.name] = _load(str(m.path), stamp)
        except MhxError as err:
            errors[m.name] = str(err)
        except Exception:  # a model that loads but breaks must not take the page down
            logger.exception("loading %s failed", m.path)
            errors[m.name] = "could not be loaded (see the server's log)"
    return loaded, errors


@st.cache_data(show_spinner=False)
def _results(path: str, stamp: float):

    # The metrics pages read these two files only; the model itself is checked when it is loaded.
    manifest = verify_artifact(Path(path), only=(METRICS, PREDICTIONS))
    return load_results(Path(path), manifest)


@st.cache_resource(show_spinner="Reading the models' held-out posts…")
def _reference(path: str, stamp: float, names: tuple[str, ...]):
    return shift_reference([i for i in _discover(path, stamp) if i.ok and i.name in names])


def shift_reference_for(names) -> Reference | None:
    """The in-domain posts that uploads and pasted posts are compared with (``scoring.shift``)."""
    d = models_dir()
    return _reference(str(d), _stamp(d), tuple(sorted(names)))


def training_shares_for(names) -> dict[str, float] | None:
    return training_shares([i for i in model_infos() if i.ok and i.name in names])


def shift_section(report: dict) -> None:
    """A file's shift verdict, and when shift is detected, what the models predict for it beside the
    training data's classes."""
    st.subheader("Is this file like the training data?")
    sentence = escape_markdown(shift_sentence(report["shift"]))
    if not report["shift"]["detected"]:
        st.caption(sentence)
        return
    st.warning(sentence)
    shares = shares_table(report)
    if shares is not None:
        st.caption("Share of this file's posts each model predicts per class, beside the training data's share: "
                   "a class that takes far more of this file than of the training data is where the shift shows.")
        table(shares.assign(**{"class": shares["class"].map(display_name)}))


def load_all_results(folder: Path | None = None) -> tuple[list, dict[str, str]]:
    """Results of the selected models folder, or of another configured ``folder``."""
    out, errors = [], {}
    infos = model_infos() if folder is None else _discover(str(folder), _stamp(folder))
    for m in infos:
        if not m.ok:
            errors[m.name] = m.error
            continue
        try:
            out.append(_results(str(m.path), _stamp(m.path)))
        except MhxError as err:
            errors[m.name] = str(err)
    return out, errors


def sidebar() -> None:
    with st.sidebar:
        dirs = settings().models_dirs
        st.selectbox("Models folder", dirs, key="models_dir", format_func=str, disabled=len(dirs) < 2,
                     help="The folders this server is configured with (MHX_MODELS_DIR, several separated by "
                          "':'). Visitors choose among them; they cannot name another path.")
        st.markdown("**Models**")
        for m in model_infos():
            if m.ok:
                man = m.manifest
                made = "recalibrated" if man.get("calibration_variant") else "trained"
                st.markdown(f":green[:material/check_circle:] `{m.name}` · {escape_markdown(man['split']['protocol'])}"
                            f" · {made} {escape_markdown(man['created'][:16])}  \n"
                            f"{escape_markdown(man['data'].get('file', 'data'))} · {len(man['labels'])} classes · "
                            f"sha256 {escape_markdown(man['data']['sha256'][:12])}…")
            else:
                st.markdown(f":gray[:material/radio_button_unchecked:] `{m.name}`: {escape_markdown(m.error)}")


def dataset_note(manifests: dict[str, dict]) -> None:
    """Say which dataset the page shows, from the models' manifests (name -> manifest): one caption,
    naming the models of each dataset where they come from several. File and class names are the
    visitor's text: escaped."""
    by_caption: dict[str, list[str]] = {}
    for name, manifest in manifests.items():
        by_caption.setdefault(dataset_caption(manifest), []).append(title(name))
    if len(by_caption) == 1:
        st.caption(escape_markdown(f"Dataset: {next(iter(by_caption))}"))
    elif by_caption:
        st.caption(escape_markdown("Datasets: " + "; ".join(f"{' and '.join(names)} on {caption}"
                                                             for caption, names in by_caption.items())))


def model_manifests(names) -> dict[str, dict]:
    """The manifests of the selected folder's models ``names`` (loaded ones: their manifest is read)."""
    return {m.name: m.manifest for m in model_infos() if m.ok and m.name in names}


def one_label_set(labels_of: dict[str, tuple[str, ...]], key: str) -> list[str] | None:
    """The models (name -> labels) a comparing page sets side by side: all of them while they share
    one label set. Where they do not, the page offers a choice of models and, until the models
    chosen share one, shows the refusal in one line and returns None (as it does with none chosen)."""
    names = list(labels_of)
    if len({tuple(labels) for labels in labels_of.values()}) > 1:
        names = st.multiselect("models to compare (they were trained on different label sets)", names,
                               default=names, key=key, format_func=title)
    try:
        common_labels({n: labels_of[n] for n in names})
    except DataError as err:
        show_error(err)
        return None
    return names or None


def chart_columns(n_charts: int, n_labels: int) -> list:
    """Where per-model charts over classes go: side by side for a few classes, one under another
    for more (a 20 x 20 confusion matrix needs the page's width)."""
    return st.columns(max(1, n_charts)) if n_labels <= 6 else [st.container() for _ in range(n_charts)]


def missing_models_notice(errors: dict[str, str], lead: str = "Not shown") -> None:
    if errors:
        st.caption(f"{lead}: " + escape_markdown("; ".join(f"{n} ({e})" for n, e in errors.items())))


def _shown_path(path: Path | str) -> str:
    """A path as a command typed in the project folder needs it: relative inside the project."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(PROJECT)) if p.is_absolute() else str(p)
    except ValueError:
        return str(p)


def train_commands(models_dir: Path, data: Path | None) -> dict[str, str]:
    """Shell commands, to run in the project folder, that train each kind of model into ``models_dir``
    (by kind, in catalog order: ``classifiers.catalog.KINDS``)."""
    venv_python = PROJECT / ".venv" / "bin" / "python"
    python = ".venv/bin/python" if Path(sys.executable).parent == venv_python.parent else "python"
    data_arg = shlex.quote(_shown_path(data)) if data else "PATH/TO/data_to_be_cleansed.csv"
    out = shlex.quote(_shown_path(models_dir))
    base = f"{python} -m train --data {data_arg} --out {out}"
    combine = CombineConfig()

    def command(name: str, kind) -> str:
        if kind.combines:  # built from trained members, the data unread
            members = ",".join(getattr(combine, f"{name}_members"))
            return f"{python} -m train --out {out} --models {name} --{name}-members {members}"
        return base if kind.default else f"{base} --models {','.join(models_of(name))}"

    return {name: command(name, kind) for name, kind in KINDS.items()}


def no_models_help() -> None:
    st.warning(f"No trained models in {escape_markdown(models_dir())}.")
    cmds = train_commands(models_dir(), settings().data_path)
    for k, (name, kind) in enumerate(KINDS.items()):
        titles = " and ".join(title(m) for m in models_of(name))
        st.markdown(f"{'In the project folder, train' if k == 0 else 'and'} {titles} ({kind.training_time}) with:")
        st.code(cmds[name], language="bash")


@st.cache_resource(show_spinner=False)
def _explanation_cache():

    return ExplanationCache(max_items=512)  # in memory only: the app writes nothing to disk


def cached_explain(clf, text: str, method: str, target=None, budget=None):
    """``explain`` through the one explanation cache, keyed by the model's artifact hash, the
    post and every setting (see ExplanationCache.key)."""

    return explain(clf, text, method, target=target, budget=budget, cache=_explanation_cache())


def explain_columns(models: dict, text: str, method: str, target=None, budget=None,
                    downloads: bool = False) -> dict:
    """Explain ``text`` with every model, one column each; returns the explanations that worked."""

    bar = st.progress(0.0, text="explaining…")
    done = {}
    for k, ((name, clf), col) in enumerate(zip(models.items(), st.columns(max(1, len(models))))):
        bar.progress(k / len(models), text=f"explaining with {title(name)}…")
        try:
            exp = cached_explain(clf, text, method, target, budget)
        except MhxError as err:
            with col:
                show_error(err)
            continue
        except Exception:
            with col:
                show_unexpected(f"explaining with {name}")
            continue
        with col:
            explanation_card(exp, name, downloads=downloads)
        done[name] = exp
    bar.progress(1.0, text="done")
    return done


def _require(found, errors: dict[str, str]):
    if not found:
        no_models_help()
        st.stop()
    missing_models_notice(errors)
    return found


@st.cache_data(show_spinner="Running the shortcut probe on the test posts…", max_entries=16)
def _probe(path: str, stamp: float, fingerprints: tuple, _models: dict,
           words: tuple[str, ...] | None = None) -> tuple[list[dict], dict[str, str]]:

    # why a model could not be probed is cached with the results: a cached rerun must say it too
    failed: dict[str, str] = {}
    return probe_folder(Path(path), words or (), seed=0, models=_models, failed=failed,
                        only_words=words is not None), failed


def shortcut_probe(words: tuple[str, ...] | None = None) -> tuple[list[dict], dict[str, str]]:
    """The probe for the selected folder's models that load (cached until a model folder changes),
    and a one-line reason for each model that is there but could not be loaded or probed (a model
    not trained in the folder is no failure: the page names those already). ``words``: delete
    these alone instead of the words that name the classes."""

    infos = model_infos()
    models, errors = load_models(infos)
    d = models_dir()
    results, failed = _probe(str(d), _stamp(d), tuple(fingerprint(m) for m in models.values()), models, words)
    present = {m.name for m in infos if m.path.exists()}
    return results, {n: why for n, why in {**errors, **failed}.items() if n in present}


@st.cache_data(show_spinner=False, max_entries=8)
def _class_words(path: str, stamp: float, names: tuple[str, ...]):
    results, _ = load_all_results(Path(path))
    return class_words_table([r for r in results if r.name in names])


def class_words(results) -> pd.DataFrame:
    """``probe.class_words_table`` for these models of the selected folder (cached with it)."""
    d = models_dir()
    return _class_words(str(d), _stamp(d), tuple(r.name for r in results))


def require_models() -> dict:
    """The page's loaded models; with none, explain how to train and stop the page."""
    return _require(*load_models())


def require_results() -> list:
    """Every trained model's test-set results; with none, explain how to train and stop the page."""
    return _require(*load_all_results())


def comparable_results(key: str) -> list:
    """The results a comparing page sets side by side: every trained model's while they share one
    label set, else those the visitor picks (``one_label_set``); says which dataset they come from.
    Stops the page when there are none to compare."""
    every = require_results()
    picked = one_label_set({r.name: r.labels for r in every}, key)
    if picked is None:
        st.stop()
    results = [r for r in every if r.name in picked]
    dataset_note({r.name: r.manifest for r in results})
    return results


def explanation_card(exp, name: str, downloads: bool = False) -> None:
    """One model's explanation: highlighted words (escaped HTML), faithfulness, downloads."""

    shown = escape_markdown(display_name(exp.labels[exp.target]))
    st.markdown(f"**{title(name)}** → {shown} (p={exp.proba[exp.target]:.3f})")
    st.html(exp.to_html())  # Explanation.to_html escapes every piece of user text
    f = exp.faithfulness
    if f:
        st.caption(f"{exp.output_space} · comprehensiveness {f['comprehensiveness']:.3f} · "
                   f"sufficiency {f['sufficiency']:.3f} · {exp.n_evals} evaluations · {exp.seconds:.1f} s")
    for note in (exp.member_note, exp.truncated):
        if note:
            st.caption(escape_markdown(note))
    if downloads:
        st.download_button("HTML", f"<!doctype html><meta charset='utf-8'>{exp.to_html()}",
                           file_name=f"explanation-{name}-{exp.method}.html", mime="text/html", key=f"h{name}")
        st.download_button("JSON", exp.to_json(), file_name=f"explanation-{name}-{exp.method}.json",
                           mime="application/json", key=f"j{name}")


@st.cache_data(show_spinner=False, max_entries=4)
def _upload_header(raw: bytes, name: str) -> list[str]:
    check_upload(name)
    # read as every upload is read (its limits checked first), once per file: the header is all that is kept
    return list(read_table_upload(raw, name, sys.maxsize).columns)


def _column_box(where, label: str, header: list[str], default: str | None, key: str, optional: bool = False):
    options = ([None] if optional else []) + header
    index = options.index(default) if default in options else (0 if optional else None)
    # Options are shown as plain text (never as markdown): no escaping, or its backslashes would show.
    return where.selectbox(label, options, index=index, key=key, placeholder="choose a column",
                           format_func=lambda c: "(none)" if c is None else c)


def upload_columns(upload) -> tuple[DatasetSpec | None, str]:
    """Which columns of an uploaded training file hold what, picked from its header (the Kaggle
    preset's columns preselected when the file has them). Returns the spec, or None and what to say
    when Train is pressed ("" once the file's own problem is on screen)."""
    try:
        header = _upload_header(upload.getvalue(), upload.name)
    except MhxError as err:
        show_error(err)
        return None, ""
    preset = DatasetSpec().resolved()
    has = {c: c if c in header else None for c in (preset.text_col, preset.title_col, preset.label_col)}
    c1, c2, c3, c4 = st.columns(4)
    text = _column_box(c1, "text column", header, has[preset.text_col], "train_text")
    title_col = _column_box(c2, "title column", header, has[preset.title_col], "train_title", optional=True)
    label = _column_box(c3, "label column", header, has[preset.label_col], "train_label")
    group = _column_box(c4, "group column (author, thread: kept on one side of the split)", header, None,
                        "train_group", optional=True)
    coders = st.multiselect("human coders' label columns (two or more: agreement is reported)", header,
                            key="train_coders")
    order = st.text_input("class names in order (optional, comma-separated; default: sorted)", key="train_labels")
    if text is None or label is None:
        return None, "Choose the text column and the label column first."
    labels = tuple(n.strip() for n in order.split(",") if n.strip())
    if not labels and (text, title_col, label) == (preset.text_col, preset.title_col, preset.label_col):
        return DatasetSpec(group_col=group, coder_cols=tuple(coders)), ""  # the Kaggle file: its five names
    return DatasetSpec(text, title_col, label, labels, group, None, tuple(coders)), ""


def train_here() -> None:
    """The Overview's training form (only where the operator allows it): NB + LR from an uploaded
    CSV, its columns picked from its header, or from the dataset the server was configured with,
    into the selected models folder. Visitors never name a path."""

    s = settings()
    st.subheader("Train the classical models here")
    sources = ["an uploaded CSV"] + (["the dataset on this server"] if s.data_path else [])
    source = st.radio("data", sources, horizontal=True, key="train_source")
    spec, problem = None, ""
    if source == sources[0]:
        upload = st.file_uploader(f"CSV: any labelled text file, or the Kaggle 'Reddit Mental Health Data' file "
                                  f"(at most {MAX_UPLOAD_MB} MB)", key="train_upload", max_upload_size=MAX_UPLOAD_MB)
        spec, problem = upload_columns(upload) if upload is not None else (None, "Choose a CSV file to upload first.")
    go = st.button("Train Naive Bayes + Logistic Regression", key="train_go")
    if not go:
        return
    if source == sources[0] and spec is None:
        if problem:
            show_error(problem)
        return

    # One process: no worker pool is forked from inside the web server.
    cfg = TrainConfig(data=s.data_path or Path("upload.csv"), out=models_dir(), n_jobs=1)
    stages = planned_stages(cfg)
    bar = st.progress(0.0, text="starting…")

    def progress(name: str) -> None:
        k = stages.index(name) if name in stages else 0
        bar.progress(k / len(stages), text=f"step {k + 1} of {len(stages)}: {name}…")

    try:
        if source == sources[0]:
            train_upload(upload.getvalue(), upload.name, cfg.out, cfg.models, progress, dataset=spec, n_jobs=1)
        else:
            run(cfg, progress)
    except MhxError as err:
        bar.empty()
        show_error(err)
        return
    bar.progress(1.0, text="done")
    st.cache_data.clear()
    st.rerun()
