"""The cascade and the ensemble: built from trained members, chosen on held-out training posts,
saved, loaded, checked against their members, scored, explained and refused in one line."""
import dataclasses
import html
import json
import shutil

import numpy as np
import pandas as pd
import pytest

from mhexplain.artifacts.folder import MANIFEST, read_manifest, read_predictions, read_validation, verify_artifact
from mhexplain.artifacts.registry import discover, load_classifier, load_models, read_calibration
from mhexplain.classifiers.combined import Cascade, Ensemble
from mhexplain.cli import evaluate as evaluate_cli
from mhexplain.cli import score as score_cli
from mhexplain.cli.train import main as train_cli
from mhexplain.cli.train import parse_args
from mhexplain.core.errors import ArtifactError, DataError
from mhexplain.core.hashing import sha256_file
from mhexplain.evaluation.combined import cascade_curve, combination_table, estimated_speed
from mhexplain.evaluation.compare import load_results
from mhexplain.evaluation.explorer import explorer_table
from mhexplain.evaluation.metrics import macro_f1, resample_weights, resampled_macro_f1
from mhexplain.explain import explain
from mhexplain.training.api import run
from mhexplain.training.combined import (
    RESAMPLES,
    cascade_answers,
    choose_route_below,
    choose_weights,
    weight_grid,
)
from mhexplain.trust.calibration import Calibration, scale

from .conftest import COMBINE, FIRST, SECOND


def _train(out, data, *args) -> int:
    return train_cli(["--data", str(data), "--out", str(out), "--jobs", "1", "--cache-dir", str(out / ".cache"),
                      *args])


def _held_out(folder, name):
    """A member's held-out ids, labels and calibrated probabilities, as its files hold them."""
    path = folder / name
    v = read_validation(path, read_manifest(path)).sort_values("post_id")
    raw = v.iloc[:, 2:].to_numpy(dtype=float)
    return v["post_id"].to_numpy(), v["true_label"].to_numpy(), scale(raw, read_calibration(path).temperature)


def test_every_model_keeps_held_out_training_predictions_and_was_calibrated_on_them(combined_dir):
    for name in ("lr", "ngram"):
        path = combined_dir / name
        manifest = verify_artifact(path)
        held = read_validation(path, manifest)
        test_ids = set(read_predictions(path)["post_id"])
        assert len(held) == manifest["split"]["n_train"] and not test_ids & set(held["post_id"])
        raw = held.iloc[:, 2:].to_numpy(dtype=float)
        np.testing.assert_allclose(raw.sum(1), 1.0, atol=1e-9)
        refit = Calibration.fit(raw, held["true_label"].to_numpy(), "again")
        assert refit.temperature == pytest.approx(read_calibration(path).temperature, rel=1e-6)


def test_the_routing_threshold_is_chosen_on_held_out_posts_for_its_goal(combined_dir):
    combo = json.loads((combined_dir / "cascade" / "combination.json").read_text())
    ids, y, first = _held_out(combined_dir, FIRST)
    ids2, _, second = _held_out(combined_dir, SECOND)
    assert (ids == ids2).all()
    t, found = choose_route_below([first, second], y, 5, 0.005, 0.9, seed=42)
    assert combo["route_below"] == pytest.approx(t) and found["goal_met"] and combo["confidence"] == 0.9
    # the goal holds in 90% of the paired resamples at the threshold, and at no lower one (fewer posts routed)
    weights = resample_weights(len(y), RESAMPLES, 42)
    alone = resampled_macro_f1(weights, y, second.argmax(1), 5)

    def kept(c):
        f1 = resampled_macro_f1(weights, y, cascade_answers(first, second, c)[0].argmax(1), 5)
        return (f1 >= alone - 0.005).mean()

    assert kept(t) == pytest.approx(found["resamples_within_tolerance"]) and kept(t) >= 0.9
    assert all(kept(c) < 0.9 for c in np.unique(first.max(1)) if c < t)
    report = json.loads((combined_dir / "cascade" / "metrics.json").read_text())["combination"]
    assert report["operating_point"]["validation_share_routed"] == pytest.approx(found["share_routed"])
    assert [m["name"] for m in read_manifest(combined_dir / "cascade")["members"]] == [FIRST, SECOND]
    assert 0 < report["operating_point"]["share_routed"] < 1


def test_a_loaded_cascade_predicts_what_its_folder_says_and_names_who_answered(combined_dir):
    models = load_models(combined_dir)
    cascade, first_model, second_model = models["cascade"], models[FIRST], models[SECOND]
    assert isinstance(cascade.base, Cascade) and cascade.labels == first_model.labels
    preds = read_predictions(combined_dir / "cascade")
    texts = preds["text"].tolist()
    p, who = cascade.predict_routed(texts)
    np.testing.assert_allclose(p, preds.filter(regex="^p_").to_numpy(), atol=1e-6)
    assert who == preds["answered_by"].tolist() and set(who) == {"lr", "ngram"}
    first = first_model.predict_proba(texts)
    sure = first.max(1) >= cascade.base.route_below
    assert [w == FIRST for w in who] == sure.tolist()
    np.testing.assert_allclose(p[sure], first[sure], atol=1e-12)
    np.testing.assert_allclose(p[~sure], second_model.predict_proba([t for t, s in zip(texts, sure) if not s]),
                               atol=1e-12)


def test_a_loaded_ensemble_is_the_recalibrated_weighted_mean(combined_dir):
    models = load_models(combined_dir)
    ens = models["ensemble"]
    combo = json.loads((combined_dir / "ensemble" / "combination.json").read_text())
    assert isinstance(ens.base, Ensemble) and sum(combo["weights"]) == pytest.approx(1.0)
    texts = read_predictions(combined_dir / "ensemble")["text"].tolist()[:20]
    mean = sum(w * models[m["name"]].predict_proba(texts) for w, m in zip(combo["weights"], combo["members"]))
    np.testing.assert_allclose(ens.predict_proba(texts), scale(mean, ens.calibration.temperature), atol=1e-12)
    np.testing.assert_allclose(ens.predict_proba(texts), read_predictions(combined_dir / "ensemble").filter(
        regex="^p_").to_numpy()[:20], atol=1e-6)
    # the weights are the grid's best log-loss on the held-out posts
    _, y, first = _held_out(combined_dir, "lr")
    _, _, second = _held_out(combined_dir, "ngram")
    assert choose_weights([first, second], y, "validation").tolist() == pytest.approx(combo["weights"])


def test_the_weight_grid_and_equal_weights():
    grid = weight_grid(3)
    assert np.allclose(grid.sum(1), 1) and (grid >= 0).all() and np.allclose(grid[0], 1 / 3)
    y = np.array([0, 1, 0, 1])
    good, bad = np.eye(2)[y] * 0.9 + 0.05, np.full((4, 2), 0.5)
    assert choose_weights([good, bad], y, "validation").tolist() == [1.0, 0.0]
    assert choose_weights([good, bad], y, "equal").tolist() == [0.5, 0.5]


def test_explaining_a_cascade_explains_the_member_that_answered(combined_dir):
    models = load_models(combined_dir)
    cascade = models["cascade"]
    preds = read_predictions(combined_dir / "cascade")
    for member in ("lr", "ngram"):
        text = preds.loc[preds["answered_by"] == member, "text"].iloc[0]
        exp = explain(cascade, text, "linear")
        assert exp.model == member and exp.answered_for == "cascade"
        assert f"this is {member}'s explanation" in exp.member_note and html.escape(exp.member_note) in exp.to_html()
        alone = explain(models[member], text, "linear")
        np.testing.assert_allclose(exp.weights, alone.weights)
    exp = explain(models["ensemble"], preds["text"].iloc[0], "shap", budget=60)
    assert exp.model == "ensemble" and exp.answered_for is None and np.abs(exp.weights).sum() > 0


def test_score_names_the_answering_member_in_its_own_column(combined_dir, fixture_csv, tmp_path, capsys):
    out = tmp_path / "scored.csv"
    assert score_cli.main(["--models-dir", str(combined_dir), "--data", str(fixture_csv), "--out", str(out)]) == 0
    table = pd.read_csv(out, keep_default_na=False)
    cols = list(table.columns)
    assert cols[cols.index("cascade_pred") + 1] == "cascade_answered_by" and "ensemble_answered_by" not in cols
    answered = table.loc[table["cascade_pred"] != "", "cascade_answered_by"]
    assert set(answered) <= {"lr", "ngram"} and len(set(answered)) == 2
    first_conf = pd.to_numeric(table.loc[table["cascade_pred"] != "", f"{FIRST}_confidence"])
    route_below = load_classifier(combined_dir / "cascade").base.route_below
    assert ((answered == FIRST) == (first_conf >= route_below - 1e-6)).all()


def test_a_member_retrained_under_a_cascade_invalidates_it_until_it_is_rebuilt(combined_dir, noisy_csv, tmp_path,
                                                                               capsys, caplog):
    folder = tmp_path / "models"
    shutil.copytree(combined_dir, folder)
    assert _train(folder, noisy_csv, "--models", "lr", "--seed", "7") == 0  # another split
    assert "lr has been retrained or changed since cascade was built from it" in caplog.text  # the run says so
    for name in ("cascade", "ensemble"):
        with pytest.raises(ArtifactError, match=f"lr has been retrained or changed since {name} was built from it; "
                                                f"rebuild with: python -m train .* --models {name} --{name}-members"):
            load_classifier(folder / name)
    # every command that reads the folder says so, with the command that rebuilds it
    infos = {i.name: i for i in discover(folder)}
    assert not infos["cascade"].ok and "rebuild with: python -m train" in infos["cascade"].error
    assert f"--cascade-members {FIRST},{SECOND} --cascade-tolerance 0.005 --cascade-confidence 0.9" in infos[
        "cascade"].error
    assert "--ensemble-members lr,ngram --ensemble-weights validation" in infos["ensemble"].error
    with pytest.raises(DataError, match="--models can leave cascade out"):
        load_models(folder)
    before = (folder / "cascade" / MANIFEST).read_bytes()
    # rebuilding alone is refused: the members were trained on different splits now
    assert train_cli(["--out", str(folder), "--models", "cascade", *COMBINE]) == 2
    assert "were trained on different splits (split seed differs)" in capsys.readouterr().err
    assert (folder / "cascade" / MANIFEST).read_bytes() == before
    # retrain the other member on the same split and rebuild (no data read for the cascade itself)
    assert _train(folder, noisy_csv, "--models", "ngram", "--seed", "7") == 0
    assert train_cli(["--out", str(folder), "--models", "cascade,ensemble", *COMBINE]) == 0
    assert load_classifier(folder / "cascade").labels == load_classifier(folder / "lr").labels
    assert read_manifest(folder / "cascade")["split"]["seed"] == 7


def test_combinations_are_refused_in_one_line_before_any_work(combined_dir, fixture_csv, noisy_csv, tmp_path,
                                                              capsys):
    folder = tmp_path / "models"
    cases = [
        (["--models", "cascade", "--cascade-members", "lr,nb"], "the cascade's member lr is not trained in"),
        (["--models", "cascade", "--cascade-members", "lr,cascade"], "--cascade-members: cascade cannot be a member"),
        (["--models", "ensemble", "--ensemble-members", "lr"], "--ensemble-members takes 2 to 4 different models"),
        (["--models", "cascade", "--cascade-members", "lr,ngram,nb"], "--cascade-members takes two different models"),
        (["--models", "cascade", "--cascade-tolerance", "2"], "--cascade-tolerance must be between 0 and 1"),
    ]
    for args, message in cases:
        capsys.readouterr()
        try:
            rc = train_cli(["--data", str(fixture_csv), "--out", str(folder), *args])
        except SystemExit as stop:  # the command line's own refusal of a setting
            rc = stop.code
        assert rc == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert message in err[-1] and err[-1].startswith(("error:", "python -m train: error:")), err
        assert not folder.exists()
    # a run that trains one member beside another trained on another split: refused before training
    copy = tmp_path / "copy"
    shutil.copytree(combined_dir, copy)
    before = {p.name: p.stat().st_mtime for p in copy.iterdir()}
    capsys.readouterr()
    assert train_cli(["--data", str(noisy_csv), "--out", str(copy), "--models", "ngram,cascade", "--seed", "7",
                      "--cascade-members", "ngram,lr"]) == 2
    assert "lr in " in (err := capsys.readouterr().err) and "(split seed differs)" in err
    assert {p.name: p.stat().st_mtime for p in copy.iterdir()} == before
    # a member trained before folders kept held-out predictions
    old = tmp_path / "old"
    shutil.copytree(combined_dir, old)
    manifest = json.loads((old / "lr" / MANIFEST).read_text())
    del manifest["files"]["validation.csv"]
    (old / "lr" / MANIFEST).write_text(json.dumps(manifest))
    (old / "lr" / "validation.csv").unlink()
    assert train_cli(["--out", str(old), "--models", "cascade", *COMBINE]) == 2
    assert "keeps no held-out predictions" in capsys.readouterr().err


def test_too_few_shared_held_out_posts_are_refused(three_models_dir, tmp_path, capsys):
    """BERT holds out its validation slice only: 16 posts of the fixture's training split."""
    folder = tmp_path / "models"
    shutil.copytree(three_models_dir, folder)
    assert train_cli(["--out", str(folder), "--models", "cascade", "--cascade-members", "lr,bert"]) == 2
    assert "the members share 16 held-out training posts; at least 50" in capsys.readouterr().err
    assert not (folder / "cascade").exists()


def test_recalibrating_a_combination_is_refused_with_the_way_to_do_it(combined_dir, fixture_csv, tmp_path, capsys):
    out = tmp_path / "variants"
    rc = evaluate_cli.main(["--models-dir", str(combined_dir), "--data", str(fixture_csv), "--text-col", "text",
                            "--label-col", "target",
                            "--recalibrate", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "cascade, ensemble are made of other models: recalibrate the members (--models lr,ngram)" in err
    assert f"--models cascade --cascade-members {FIRST},{SECOND}; " in err
    assert not out.exists()


def test_the_compare_tables_read_the_curve_and_the_speeds(combined_dir):
    results = [load_results(combined_dir / n, read_manifest(combined_dir / n)) for n in ("lr", "cascade", "ensemble")]
    table = combination_table(results)
    assert table["model"].tolist() == ["Cascade", "Ensemble"]
    assert table["members"].tolist() == [f"{FIRST} → {SECOND}", "lr + ngram"]
    assert (table["posts/s"] > 0).all()
    explorer = explorer_table(results)
    assert set(explorer["cascade answered by"]) == {FIRST, SECOND} and "ensemble answered by" not in explorer
    curve = cascade_curve(results[1])
    assert curve["operating point"].sum() == 1 and curve["share routed"].iloc[0] == 0.0
    assert curve["share routed"].is_monotonic_increasing and curve["share routed"].iloc[-1] > 0.9
    assert estimated_speed({"a": 100.0, "b": 10.0}, ["a", "b"], 0.5) == pytest.approx(1 / (0.01 + 0.05))


def test_a_re_hashed_combination_that_does_not_fit_its_kind_is_refused_in_one_line(combined_dir, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(combined_dir, folder)
    edits = {"ensemble": lambda c: c.update(weights=[1.0]),
             "cascade": lambda c: c.update(members=c["members"] + [{"name": "nb", "artifact_sha256": "0"}])}
    for name, edit in edits.items():
        path = folder / name / "combination.json"
        combo = json.loads(path.read_text())
        edit(combo)
        path.write_text(json.dumps(combo))
        manifest = json.loads((folder / name / MANIFEST).read_text())
        manifest["files"]["combination.json"] = sha256_file(path)
        (folder / name / MANIFEST).write_text(json.dumps(manifest))
        with pytest.raises(ArtifactError, match=f"does not describe a {name}"):
            load_classifier(folder / name)
    combo = json.loads((folder / "cascade" / "combination.json").read_text())
    combo["members"] = [{"name": "../lr", "artifact_sha256": "0"}, combo["members"][1]]
    (folder / "cascade" / "combination.json").write_text(json.dumps(combo))
    manifest = json.loads((folder / "cascade" / MANIFEST).read_text())
    manifest["files"]["combination.json"] = sha256_file(folder / "cascade" / "combination.json")
    (folder / "cascade" / MANIFEST).write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="its members must be two or more different models"):
        load_classifier(folder / "cascade")


def test_only_the_first_process_of_a_distributed_run_builds_a_combination(combined_dir, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(combined_dir, folder)
    shutil.rmtree(folder / "cascade")
    cfg = parse_args(["--out", str(folder), "--models", "cascade", *COMBINE])
    assert run(dataclasses.replace(cfg, first_process=False)) == {} and not (folder / "cascade").exists()
    assert set(run(cfg)) == {"cascade"} and (folder / "cascade").is_dir()


def test_a_missing_combination_names_the_command_that_builds_it(combined_dir, tmp_path):
    folder = tmp_path / "models"
    shutil.copytree(combined_dir, folder)
    shutil.rmtree(folder / "ensemble")
    with pytest.raises(DataError, match=r"No ensemble in .*; build it from trained members with: python -m train "
                                        r"--out .* --models ensemble --ensemble-members FIRST,SECOND"):
        load_models(folder, ["ensemble"])


def test_macro_f1_over_resamples_is_macro_f1_of_each_resample():
    rng = np.random.default_rng(1)
    y, pred = rng.integers(0, 4, 300), rng.integers(0, 4, 300)
    weights = resample_weights(300, 5, seed=3)
    assert weights.sum(1).tolist() == [300] * 5
    for w, got in zip(weights, resampled_macro_f1(weights, y, pred, 4)):
        idx = np.repeat(np.arange(300), w.astype(int))
        assert got == pytest.approx(macro_f1(y[idx], pred[idx], 4), abs=1e-6)
    assert resampled_macro_f1(np.ones((1, 300), np.float32), y, pred, 4)[0] == pytest.approx(macro_f1(y, pred, 4))
