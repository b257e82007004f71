"""Model folders on load: a modified, truncated, re-hashed or padded folder is refused in one line
that names the file and the field, before any page or loader uses it."""
import json
import shutil

import pandas as pd
import pytest

from mhexplain.artifacts.folder import METRICS, PREDICTIONS, read_predictions, verify_artifact
from mhexplain.artifacts.registry import discover, load_classifier
from mhexplain.core.errors import ArtifactError
from mhexplain.core.hashing import sha256_file

from .helpers import rescore


def _copy(trained_dir, tmp_path, name="lr"):
    d = tmp_path / name
    shutil.copytree(trained_dir / name, d)
    return d


def _rehash(d, name):
    """Record ``name``'s new hash, as a tamperer would: only the content checks can catch it then."""
    _edit_manifest(d, lambda m: m["files"].update({name: sha256_file(d / name)}))


def _edit_manifest(d, edit):
    man = json.loads((d / "manifest.json").read_text())
    edit(man)
    (d / "manifest.json").write_text(json.dumps(man))


def _edit_json(d, name, edit):
    content = json.loads((d / name).read_text())
    content = edit(content) or content
    (d / name).write_text(json.dumps(content))
    _rehash(d, name)


def _edit_predictions(d, edit):
    preds = pd.read_csv(d / PREDICTIONS, keep_default_na=False)
    preds = edit(preds)
    preds.to_csv(d / PREDICTIONS, index=False)
    _rehash(d, PREDICTIONS)


def _page_load(d):
    """What the Overview, Compare and Error explorer pages do with a folder (webapp.ui._results)."""
    from mhexplain.evaluation.compare import load_results

    return load_results(d, verify_artifact(d, only=(METRICS, PREDICTIONS)))


def _refused_once(call, *names) -> str:
    """The one-line ArtifactError of ``call()``, which must name every one of ``names``."""
    with pytest.raises(ArtifactError) as caught:
        call()
    message = str(caught.value)
    assert "\n" not in message
    for name in names:
        assert name in message, message
    return message


def _cell(preds, col, row, value):
    preds[col] = preds[col].astype(object)
    preds.loc[row, col] = value
    return preds


def _walk(obj, path):
    """The container holding the last key of a dotted ``path`` (integers index lists), and that key."""
    *parents, last = [int(k) if k.isdigit() else k for k in path.split(".")]
    for key in parents:
        obj = obj[key]
    return obj, last


def _set(path, value):
    """An edit that sets ``a.b.c`` to ``value``."""
    def edit(obj):
        target, key = _walk(obj, path)
        target[key] = value
    return edit


def _drop(path):
    def edit(obj):
        target, key = _walk(obj, path)
        del target[key]
    return edit


# metrics.json: every field a page reads (Overview, Compare, Error explorer; mhexplain.evaluation.compare/plots)
METRICS_EDITS = {
    "accuracy as text": (_set("accuracy", "0.9"), "accuracy should be a number, not text"),
    "accuracy NaN": (_set("accuracy", float("nan")), "accuracy should be a number, not NaN"),
    "macro_f1 missing": (_drop("macro_f1"), "macro_f1 is missing"),
    "macro_f1_ci missing": (_drop("macro_f1_ci"), "macro_f1_ci is missing"),
    "three-item interval": (_set("macro_f1_ci", [0.1, 0.2, 0.3]), "macro_f1_ci should have 2 items, not 3"),
    "interval of text": (_set("macro_f1_ci", ["a", "b"]), "macro_f1_ci[0] should be a number"),
    "kappa null": (_set("cohen_kappa", None), "cohen_kappa should be a number, not null"),
    "macro recall a list": (_set("macro_avg.recall", [1]), "macro_avg.recall should be a number, not a list"),
    "class missing": (_drop("per_class.bipolar"), "per_class.bipolar is missing"),
    "class f1 text": (_set("per_class.anxiety.f1", "high"), "per_class.anxiety.f1 should be a number"),
    "precision above 1": (_set("per_class.stress.precision", 3), "per_class.stress.precision should be between 0 and 1"),
    "2 x 2 matrix": (_set("confusion_matrix", [[1, 2], [3, 4]]), "confusion_matrix should have 5 items, not 2"),
    "short matrix row": (_set("confusion_matrix.2", [1, 2]), "confusion_matrix[2] should have 5 items"),
    "matrix cell text": (_set("confusion_matrix.0.0", "7"), "confusion_matrix[0][0] should be an integer, not text"),
    "matrix cell negative": (_set("confusion_matrix.1.1", -1), "confusion_matrix[1][1] should be at least 0"),
    "matrix cell fraction": (_set("confusion_matrix.1.0", 2.5), "confusion_matrix[1][0] should be an integer"),
    "matrix a dict": (_set("confusion_matrix", {"a": 1}), "confusion_matrix should be a list, not an object"),
    "ece text": (_set("ece", "low"), "ece should be a number"),
    "ece interval short": (_set("ece_ci", [0.1]), "ece_ci should have 2 items, not 1"),
    "uncalibrated ece null": (_set("ece_uncalibrated", None), "ece_uncalibrated should be a number"),
    "protocol a number": (_set("protocol", 3), "protocol should be text"),
    "n_test fraction": (_set("n_test", 4.5), "n_test should be an integer"),
    "overlap bool": (_set("train_test_overlap", True), "train_test_overlap should be an integer, not true/false"),
    "reliability an object": (_set("reliability", {}), "reliability should be a list"),
    "bin without count": (_drop("reliability.3.count"), "reliability[3].count is missing"),
    "raw bin confidence text": (_set("reliability_uncalibrated.0.confidence", "x"),
                                "reliability_uncalibrated[0].confidence should be a number"),
    "coverage accuracy text": (_set("coverage_curve.0.accuracy", "x"), "coverage_curve[0].accuracy should be a number"),
    "not an object": (lambda m: [m], "the file should be an object, not a list"),
}


@pytest.mark.parametrize("case", sorted(METRICS_EDITS))
def test_rehashed_metrics_are_refused_naming_the_field(case, trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    edit, field = METRICS_EDITS[case]
    _edit_json(d, METRICS, edit)
    verify_artifact(d)  # the hash matches: only the content check can catch it
    _refused_once(lambda: _page_load(d), str(d / METRICS), field)


def test_unparseable_metrics_are_refused_in_one_line(trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    (d / METRICS).write_text("[" * 100_000)  # deeper than Python's JSON parser recurses
    _rehash(d, METRICS)
    _refused_once(lambda: _page_load(d), str(d / METRICS), "is missing or corrupt")


# predictions.csv: the columns the pages read (test posts, labels, probabilities, the leakage flag)
PREDICTION_EDITS = {
    "no probability column": (lambda p: p.drop(columns=["p_anxiety"]), "lacks the column(s) p_anxiety"),
    "no label column": (lambda p: p.drop(columns=["true_label"]), "lacks the column(s) true_label"),
    "probability text": (lambda p: _cell(p, "p_stress", 1, "high"), "column p_stress row 3"),
    "probability above 1": (lambda p: _cell(p, "p_bipolar", 0, 1.5), "column p_bipolar row 2 should be a number"),
    "probability empty": (lambda p: _cell(p, "raw_p_anxiety", 4, ""), "column raw_p_anxiety row 6"),
    "probability infinite": (lambda p: _cell(p, "p_depression", 2, "inf"), "column p_depression row 4"),
    "label out of range": (lambda p: _cell(p, "true_label", 0, 7), "column true_label row 2 should be a whole number "
                                                                   "between 0 and 4"),
    "label negative": (lambda p: _cell(p, "pred_label", 5, -1), "column pred_label row 7"),
    "label fraction": (lambda p: _cell(p, "pred_label", 0, 1.5), "column pred_label row 2"),
    "labels as decimals": (lambda p: p.assign(true_label=p["true_label"].astype(float)),
                           "column true_label row 2 should be a whole number written without decimals"),
    # the message named row 2 whichever row it was
    "one label with decimals": (lambda p: _cell(p, "pred_label", 4, f"{p['pred_label'].iloc[4]}.0"),
                                "column pred_label row 6 should be a whole number written without decimals, "
                                "not '"),
    "one id with decimals": (lambda p: _cell(p, "post_id", 3, f"{p['post_id'].iloc[3]}.0"),
                             "column post_id row 5 should be a whole number written without decimals"),
    "post id text": (lambda p: _cell(p, "post_id", 0, "abc"), "column post_id row 2"),
    "post id repeated": (lambda p: _cell(p, "post_id", 3, p["post_id"].iloc[0]), "column post_id repeats an id in "
                                                                                  "row 5"),
    "copy flag not a flag": (lambda p: _cell(p, "has_train_copy", 0, "maybe"), "column has_train_copy"),
    "unknown probability": (lambda p: p.assign(p_other=0.5), "column p_other"),
    "no rows": (lambda p: p.iloc[:0], "it has no rows"),
}


@pytest.mark.parametrize("case", sorted(PREDICTION_EDITS))
def test_rehashed_predictions_are_refused_naming_the_column(case, trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    edit, field = PREDICTION_EDITS[case]
    _edit_predictions(d, edit)
    _refused_once(lambda: _page_load(d), str(d / PREDICTIONS), field)


# manifest.json: what the sidebar, the Overview's data and model cards and the Compare page read
MANIFEST_EDITS = {
    "no split": (_drop("split"), "split is missing"),
    "split seed as text": (_set("split.seed", "42"), "split.seed should be an integer"),
    "test size as text": (_set("split.n_test", "41"), "split.n_test should be an integer"),
    "no test-set hash": (_drop("split.test_post_ids_sha256"), "split.test_post_ids_sha256 is missing"),
    "three labels": (_set("labels", ["a", "b", "c"]), "(data.class_counts) is not a valid mhexplain file: train.a"),
    "a label with markup": (_set("labels", ["<b>x</b>", "b", "c", "d", "e"]), "class name number 1 holds characters"),
    "one label": (_set("labels", ["a"]), "has 1 class(es); a classifier needs 2 to 100"),
    "empty file list": (_set("files", {}), "does not list model.skops, calibration.json, metrics"),
    "model file unlisted": (lambda m: m["files"].pop("model.skops"), "does not list model.skops"),
    "unknown kind": (_set("kind", "pickle"), "unknown model kind"),
    "overlap as bool": (_set("split.train_test_overlap", True), "should be an integer"),
    "created a number": (_set("created", 2024), "created should be text"),
    "no data hash": (_drop("data.sha256"), "data.sha256 is missing"),
    "cleaning count text": (_set("cleaning.rows_kept", "many"), "cleaning.rows_kept should be an integer"),
    "three class counts": (_set("cleaning.posts_per_class", [1, 2, 3]), "cleaning.posts_per_class does not count its 5 labels"),
    "negative seconds": (_set("train_seconds", -3), "train_seconds should be at least 0"),
    "params a list": (_set("params", []), "params should be an object"),
    "calibration a list": (_set("calibration", [0.5]), "calibration should be an object"),
    "threshold text": (_set("calibration.threshold", "x"), "calibration.threshold should be a number"),
    "threshold above 1": (_set("calibration.threshold", 2), "calibration.threshold should be between 0 and 1"),
    "masking text": (_set("masking", "depress"), "masking should be an object"),
}


@pytest.mark.parametrize("case", sorted(MANIFEST_EDITS))
def test_edited_manifests_are_refused_in_one_line(case, trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path, "nb")
    edit, message = MANIFEST_EDITS[case]
    _edit_manifest(d, edit)
    _refused_once(lambda: load_classifier(d), "manifest.json", message)
    info = {m.name: m for m in discover(d.parent)}
    assert not info["nb"].ok and message in info["nb"].error and "manifest.json" in info["nb"].error


def test_a_folder_holding_another_models_manifest_is_refused(trained_dir, tmp_path):
    shutil.copytree(trained_dir / "lr", tmp_path / "nb")  # two folders would both be "lr" on the pages
    shutil.copytree(trained_dir / "lr", tmp_path / "lr")
    info = {m.name: m for m in discover(tmp_path)}
    assert info["lr"].ok and not info["nb"].ok
    assert "manifest.json describes the model 'lr', not 'nb'" in info["nb"].error


# calibration.json: what every loaded model's confidence and "uncertain" rest on
CALIBRATION_EDITS = {
    "temperature text": (_set("temperature", "1.0"), "temperature should be a number, not text"),
    "temperature zero": (_set("temperature", 0), "temperature should be above 0"),
    "temperature NaN": (_set("temperature", float("nan")), "temperature should be a number, not NaN"),
    "temperature huge": (_set("temperature", 1e9), "temperature should be above 0 and at most 1000"),
    "no threshold": (_drop("threshold"), "threshold is missing"),
    "threshold negative": (_set("threshold", -0.5), "threshold should be between 0 and 1"),
    "count text": (_set("n", "160"), "n should be an integer"),
    "a list": (lambda c: [c], "the file should be an object, not a list"),
}


@pytest.mark.parametrize("case", sorted(CALIBRATION_EDITS))
def test_rehashed_calibration_is_refused_naming_the_field(case, trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path, "nb")
    edit, field = CALIBRATION_EDITS[case]
    _edit_json(d, "calibration.json", edit)
    _refused_once(lambda: load_classifier(d), str(d / "calibration.json"), field)


def test_an_unlisted_masking_file_is_refused_not_loaded(trained_dir, tmp_path):
    """A masking.json dropped into a folder after training changed predictions with no error."""
    d = _copy(trained_dir, tmp_path, "nb")
    (d / "masking.json").write_text(json.dumps({"words": ["stress*", "anxi*", "depress*"]}))
    _refused_once(lambda: load_classifier(d), str(d), "masking.json", "does not list")
    (d / "masking.json").unlink()
    (d / "tokenizer.json").write_text("{}")  # any file a loader might read by name
    _refused_once(lambda: load_classifier(d), "tokenizer.json", "does not list")
    (d / "tokenizer.json").unlink()
    (d / ".DS_Store").write_bytes(b"\0")  # a file manager's litter: no loader reads a dotfile
    _, proba, saved, _ = rescore(d)
    assert abs(proba - saved).max() < 1e-12


def test_a_listed_masking_file_must_hold_a_word_list(trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path, "nb")
    (d / "masking.json").write_text(json.dumps({"words": "depress"}))
    _rehash(d, "masking.json")  # listed and hashed, as training writes it, but not a list
    _refused_once(lambda: load_classifier(d), str(d / "masking.json"), "is not a valid word list")


def test_loading_a_model_reads_its_calibration_and_mask_once(trained_dir, tmp_path, monkeypatch):
    """calibration.json and masking.json were each parsed twice, under two sets of rules."""
    d = _copy(trained_dir, tmp_path, "nb")
    (d / "masking.json").write_text(json.dumps({"words": ["depress*", "anxi*"]}))
    _rehash(d, "masking.json")
    parsed = []
    real_loads = json.loads
    monkeypatch.setattr(json, "loads", lambda text, *a, **k: parsed.append(text) or real_loads(text, *a, **k))
    clf = load_classifier(d)
    for name in ("calibration.json", "masking.json"):
        assert parsed.count((d / name).read_text()) == 1, name
    assert clf.predict_proba(["my depression is back"]).shape == (1, 5)


def _letters(i: int) -> str:
    """A distinct lower-case word for each ``i``."""
    return "w" + "".join(chr(ord("a") + int(d)) for d in str(i))


@pytest.mark.parametrize("words, needle", [
    ([_letters(i) for i in range(501)], "has 501 words; at most 500"),
    ([_letters(i) for i in range(200_000)], "is larger than 64 KiB"),
    (["depress*", "a" * 41], "a word of 41 characters; at most 40"),
    ([], "is empty"),
])
def test_a_listed_masking_file_is_held_to_a_word_lists_limits(words, needle, trained_dir, tmp_path):
    """Every masked word is a branch of one pattern tried at each word of every post: a listed,
    re-hashed masking.json of 200,000 words or of one huge word would keep every prediction busy."""
    d = _copy(trained_dir, tmp_path, "nb")
    (d / "masking.json").write_text(json.dumps({"words": words}))
    _rehash(d, "masking.json")
    message = _refused_once(lambda: load_classifier(d), str(d / "masking.json"), needle)
    assert message.endswith("; retrain this model.")


def test_a_manifest_recording_masked_training_must_list_the_mask(trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path, "nb")
    _edit_manifest(d, _set("masking", {"words": ["depress*"], "source": "default"}))
    _refused_once(lambda: load_classifier(d), "manifest.json", "does not list masking.json")


def test_untouched_folders_pass_every_check(trained_dir):
    for name in ("nb", "lr"):
        results = _page_load(trained_dir / name)
        assert results.name == name and len(read_predictions(trained_dir / name)) == len(results.predictions)
        load_classifier(trained_dir / name)


def test_tampered_artifact_is_rejected(trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    raw = bytearray((d / "model.skops").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (d / "model.skops").write_bytes(bytes(raw))
    with pytest.raises(ArtifactError, match="does not match its manifest"):
        load_classifier(d)


def test_truncated_and_missing_files_are_rejected(trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    (d / "model.skops").write_bytes((d / "model.skops").read_bytes()[:100])
    with pytest.raises(ArtifactError, match="truncated or modified"):
        load_classifier(d)
    (d / "model.skops").unlink()
    with pytest.raises(ArtifactError, match="missing model.skops"):
        load_classifier(d)
    (d / "manifest.json").write_text("{not json")
    with pytest.raises(ArtifactError, match="corrupt"):
        load_classifier(d)
    with pytest.raises(ArtifactError, match="No model folder"):
        load_classifier(tmp_path / "nothing")


def test_skops_file_with_foreign_types_is_refused(tmp_path):
    import skops.io as sio

    from mhexplain.classifiers.skops_files import load_skops

    p = tmp_path / "evil.skops"
    sio.dump({"f": shutil.rmtree}, p)
    with pytest.raises(ArtifactError, match="does not load"):
        load_skops(p)


def _retrained_pipeline(d, edit):
    """Change the saved pipeline itself and re-hash it: the folder then passes every hash check."""
    from mhexplain.classifiers.skops_files import SKOPS_FILE, load_skops, save_skops

    pipeline = load_skops(d / SKOPS_FILE)
    edit(pipeline)
    save_skops(pipeline, d / SKOPS_FILE)
    _rehash(d, SKOPS_FILE)


@pytest.mark.parametrize("edit, field", [
    (lambda p: setattr(p.steps[0][1], "n_jobs", 12), "n_jobs"),  # forks 12 workers per batch
    (lambda p: setattr(p.steps[1][1], "token_pattern", r"(?:a|a)+b|\b\w\w+\b"), "token_pattern"),  # ReDoS
    (lambda p: setattr(p.steps[1][1], "analyzer", "char"), "analyzer"),
])
def test_a_pipeline_that_training_never_writes_is_refused(edit, field, trained_dir, tmp_path):
    d = _copy(trained_dir, tmp_path)
    _retrained_pipeline(d, edit)
    _refused_once(lambda: load_classifier(d), "model.skops", field)


@pytest.mark.parametrize("key", ["max_chunks", "batch_size"])
def test_bert_settings_cannot_size_the_servers_work(key):
    from mhexplain.classifiers.bert import BATCH_SIZE_LIMIT, MAX_CHUNKS_LIMIT, InferenceConfig

    limit = {"max_chunks": MAX_CHUNKS_LIMIT, "batch_size": BATCH_SIZE_LIMIT}[key]
    ok = InferenceConfig(**{**InferenceConfig().__dict__, key: limit})
    assert ok.problem() is None
    assert "at most" in InferenceConfig(**{**InferenceConfig().__dict__, key: 100_000}).problem()
