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
from mhexplain.classifiers.catalog import KINDS, models_of, title
from mhexplain.core.classifier import fingerprint
from mhexplain.core.errors import MhxError
from mhexplain.core.labels import DISPLAY_NAMES
from mhexplain.core.textsafe import escape_markdown
from mhexplain.evaluation.compare import load_results
from mhexplain.evaluation.probe import probe_folder
from mhexplain.explain import ExplanationCache, explain
from mhexplain.scoring.upload import check_upload
from mhexplain.settings import MAX_UPLOAD_MB, ServerSettings
from mhexplain.training.api import run, train_upload
from mhexplain.training.common import planned_stages
from mhexplain.training.config import TrainConfig

logger = logging.getLogger("mhexplain.app")
PROJECT = Path(__file__).resolve().parents[1]
UNEXPECTED = "Something went wrong here; the details are in the server's log."

RESPONSIBLE_USE = ("**Research tool, not a diagnosis.** These models learned which subreddit a post came from; "
                   "they say nothing reliable about any person. If you or someone you know is in crisis, contact "
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
            loaded[m.name] = _load(str(m.path), _stamp(m.path))
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
                st.markdown(f":green[:material/check_circle:] `{m.name}` · {escape_markdown(man['split']['protocol'])}"
                            f" · trained {escape_markdown(man['created'][:16])}  \n"
                            f"data sha256 {escape_markdown(man['data']['sha256'][:12])}…")
            else:
                st.markdown(f":gray[:material/radio_button_unchecked:] `{m.name}`: {escape_markdown(m.error)}")


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
    base = f"{python} -m train --data {data_arg} --out {shlex.quote(_shown_path(models_dir))}"
    return {name: base if kind.default else f"{base} --models {','.join(models_of(name))}"
            for name, kind in KINDS.items()}


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


@st.cache_data(show_spinner="Running the shortcut probe on the test posts…")
def _probe(path: str, stamp: float, fingerprints: tuple, _models: dict) -> tuple[list[dict], dict[str, str]]:

    # why a model could not be probed is cached with the results: a cached rerun must say it too
    failed: dict[str, str] = {}
    return probe_folder(Path(path), (), seed=0, models=_models, failed=failed), failed


def shortcut_probe() -> tuple[list[dict], dict[str, str]]:
    """The probe for the selected folder's models that load (cached until a model folder changes),
    and a one-line reason for each model that is there but could not be loaded or probed (a model
    not trained in the folder is no failure: the page names those already)."""

    infos = model_infos()
    models, errors = load_models(infos)
    d = models_dir()
    results, failed = _probe(str(d), _stamp(d), tuple(fingerprint(m) for m in models.values()), models)
    present = {m.name for m in infos if m.path.exists()}
    return results, {n: why for n, why in {**errors, **failed}.items() if n in present}


def require_models() -> dict:
    """The page's loaded models; with none, explain how to train and stop the page."""
    return _require(*load_models())


def require_results() -> list:
    """Every trained model's test-set results; with none, explain how to train and stop the page."""
    return _require(*load_all_results())


def explanation_card(exp, name: str, downloads: bool = False) -> None:
    """One model's explanation: highlighted words (escaped HTML), faithfulness, downloads."""

    st.markdown(f"**{title(name)}** → {DISPLAY_NAMES[exp.target]} (p={exp.proba[exp.target]:.3f})")
    st.html(exp.to_html())  # Explanation.to_html escapes every piece of user text
    f = exp.faithfulness
    if f:
        st.caption(f"{exp.output_space} · comprehensiveness {f['comprehensiveness']:.3f} · "
                   f"sufficiency {f['sufficiency']:.3f} · {exp.n_evals} evaluations · {exp.seconds:.1f} s")
    if exp.truncated:
        st.caption(exp.truncated)
    if downloads:
        st.download_button("HTML", f"<!doctype html><meta charset='utf-8'>{exp.to_html()}",
                           file_name=f"explanation-{name}-{exp.method}.html", mime="text/html", key=f"h{name}")
        st.download_button("JSON", exp.to_json(), file_name=f"explanation-{name}-{exp.method}.json",
                           mime="application/json", key=f"j{name}")


def train_here() -> None:
    """The Overview's training form (only where the operator allows it): NB + LR from an uploaded
    CSV or the dataset the server was configured with, into the selected models folder."""

    s = settings()
    st.subheader("Train the classical models here")
    sources = ["an uploaded CSV"] + (["the dataset on this server"] if s.data_path else [])
    with st.form("train"):
        source = st.radio("data", sources, horizontal=True, key="train_source")
        upload = st.file_uploader(f"CSV (the Kaggle 'Reddit Mental Health Data' file; at most {MAX_UPLOAD_MB} MB)",
                                  key="train_upload", max_upload_size=MAX_UPLOAD_MB)
        go = st.form_submit_button("Train Naive Bayes + Logistic Regression")
    if not go:
        return
    if source == sources[0] and upload is None:
        show_error("Choose a CSV file to upload first.")
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
            check_upload(upload.name)
            train_upload(upload.getvalue(), upload.name, cfg.out, cfg.models, progress, n_jobs=1)
        else:
            run(cfg, progress)
    except MhxError as err:
        bar.empty()
        show_error(err)
        return
    bar.progress(1.0, text="done")
    st.cache_data.clear()
    st.rerun()
