"""Streamlit pieces shared by the pages: cached loading, the sidebar, the responsible-use note.

Only this module and the pages import streamlit; everything they show comes from the
tested modules beside it.
"""
from __future__ import annotations

from pathlib import Path

import streamlit as st

from .artifacts import METRICS, PREDICTIONS, default_models_dir, verify_artifact
from .errors import MhxError
from .registry import ModelInfo, discover

RESPONSIBLE_USE = ("**Research tool, not a diagnosis.** These models learned which subreddit a post came from; "
                   "they say nothing reliable about any person. If you or someone you know is in crisis, contact "
                   "local emergency services or find a helpline at [findahelpline.com](https://findahelpline.com).")


def models_dir() -> Path:
    return Path(st.session_state.get("models_dir") or default_models_dir())


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
    from .registry import load_classifier

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
    return loaded, errors


@st.cache_data(show_spinner=False)
def _results(path: str, stamp: float):
    from .compare import load_results

    # The metrics pages read these two files only; the model itself is checked when it is loaded.
    manifest = verify_artifact(Path(path), only=(METRICS, PREDICTIONS))
    return load_results(Path(path), manifest)


def load_all_results() -> tuple[list, dict[str, str]]:
    out, errors = [], {}
    for m in model_infos():
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
        st.text_input("Models folder", value=str(default_models_dir()), key="models_dir",
                      help="Set MHX_MODELS_DIR to change the default.")
        st.markdown("**Models**")
        for m in model_infos():
            if m.ok:
                man = m.manifest
                st.markdown(f":green[:material/check_circle:] `{m.name}` · {man['split']['protocol']} · "
                            f"trained {man.get('created', '?')[:16]}  \n"
                            f"data sha256 `{man['data']['sha256'][:12]}…`")
            else:
                st.markdown(f":gray[:material/radio_button_unchecked:] `{m.name}`: {m.error}")


def missing_models_notice(errors: dict[str, str]) -> None:
    if errors:
        st.caption("Not shown: " + "; ".join(f"{n} ({e})" for n, e in errors.items()))


def no_models_help() -> None:
    st.warning(f"No trained models in `{models_dir()}`.")
    st.markdown("Train the classical models (about 15 s) with:")
    st.code("python -m train --data PATH/TO/data_to_be_cleansed.csv", language="bash")
    st.markdown("and BERT with `--models bert` (GPU recommended; ~20 min on 2 CPU cores with the offline encoder).")


@st.cache_data(show_spinner=False, max_entries=512)
def _explain(fingerprint: str, text: str, method: str, target, budget, _clf):
    from .explain import explain

    return explain(_clf, text, method, target=target, budget=budget)


def cached_explain(clf, text: str, method: str, target=None, budget=None):
    """``explain`` cached per (model artifact hash, text, method, target, budget)."""
    return _explain(getattr(clf, "fingerprint", clf.name), text, method, target, budget, clf)


def explain_columns(models: dict, text: str, method: str, target=None, budget=None,
                    downloads: bool = False) -> dict:
    """Explain ``text`` with every model, one column each; returns the explanations that worked."""
    from .plots import title

    bar = st.progress(0.0, text="explaining…")
    done = {}
    for k, ((name, clf), col) in enumerate(zip(models.items(), st.columns(max(1, len(models))))):
        bar.progress(k / len(models), text=f"explaining with {title(name)}…")
        try:
            exp = cached_explain(clf, text, method, target, budget)
        except MhxError as err:
            col.error(str(err))
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


def require_models() -> dict:
    """The page's loaded models; with none, explain how to train and stop the page."""
    return _require(*load_models())


def require_results() -> list:
    """Every trained model's test-set results; with none, explain how to train and stop the page."""
    return _require(*load_all_results())


def explanation_card(exp, name: str, downloads: bool = False) -> None:
    """One model's explanation: highlighted words (escaped HTML), faithfulness, downloads."""
    from .labels import DISPLAY_NAMES
    from .plots import title

    st.markdown(f"**{title(name)}** → {DISPLAY_NAMES[exp.target]} (p={exp.proba[exp.target]:.2f})")
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
