"""Bringing your own dataset: any columns, any label set, group-aware and fixed splits, coders."""
import json
import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import train_test_split

from mhexplain.artifacts.folder import read_manifest, read_metrics, read_predictions
from mhexplain.artifacts.registry import load_classifier
from mhexplain.cli import evaluate as evaluate_cli
from mhexplain.cli import probe as probe_cli
from mhexplain.cli import score as score_cli
from mhexplain.cli.train import main as train
from mhexplain.core.errors import DataError
from mhexplain.datasets.dataset import DatasetSpec, parse_dataset
from mhexplain.evaluation.compare import agreement_table, group_leakage, load_results, per_class_table

from .conftest import BINARY_ARGS, BINARY_LABELS, CODERS, MANY_LABELS
from .helpers import labelled_posts


def _train(tmp_path, data, *args, models="nb,lr"):
    out = tmp_path / "models"
    try:
        rc = train(["--data", str(data), "--out", str(out), "--models", models, "--jobs", "1",
                    "--cache-dir", str(tmp_path / "cache"), *args])
    except SystemExit as stop:  # refused by the command line's checks, before any work
        rc = stop.code
    return rc, out


def test_a_binary_dataset_records_its_columns_labels_and_grouping(binary_dir, binary_csv):
    manifest = read_manifest(binary_dir / "lr")
    assert manifest["labels"] == list(BINARY_LABELS)  # --labels order, not sorted
    data = manifest["data"]
    assert data["file"] == binary_csv.name and data["label_order"] == "given"
    assert data["columns"] == {"text": "body", "title": "headline", "label": "label", "group": "author",
                               "split": None, "coders": list(CODERS), "preset": None}
    counts = data["class_counts"]
    assert sum(counts["train"].values()) == manifest["split"]["n_train"]
    assert sum(counts["test"].values()) == manifest["split"]["n_test"] and min(counts["test"].values()) > 0
    grouping = manifest["split"]["grouping"]
    assert manifest["split"]["method"] == "group" and grouping["groups"] == 30
    assert grouping["groups_in_both"] == 0 and grouping["test_rows_in_shared_groups"] == 0
    # a row-level split of the same posts would have put authors on both sides
    assert grouping["row_level_split"]["groups_in_both"] > 0
    authors = pd.read_csv(binary_csv).set_index(pd.RangeIndex(len(pd.read_csv(binary_csv))))["author"]
    test_authors = set(authors.iloc[read_predictions(binary_dir / "lr")["post_id"]])
    assert len(test_authors) == 6  # one fold of five of the 30 authors
    results = [load_results(binary_dir / n, read_manifest(binary_dir / n)) for n in ("nb", "lr")]
    table = group_leakage(results)
    assert table["groups on both sides"].tolist() == [0, 0]
    assert (table["row-level split: test posts whose group is in training"] > 0).all()


def test_binary_models_predict_their_own_labels_and_agree_with_coders(binary_dir):
    clf = load_classifier(binary_dir / "nb")
    assert clf.labels == BINARY_LABELS and clf.predict_proba(["a post"]).shape == (1, 2)
    metrics = read_metrics(binary_dir / "lr")
    assert set(metrics["per_class"]) == set(BINARY_LABELS) and np.asarray(metrics["confusion_matrix"]).shape == (2, 2)
    report = metrics["coder_agreement"]
    assert report["coders"] == list(CODERS) and report["n_items"] == read_manifest(binary_dir / "lr")["split"]["n_test"]
    assert [(p["a"], p["b"]) for p in report["pairs"]] == [("coder_a", "coder_b"), ("coder_a", "coder_c"),
                                                           ("coder_b", "coder_c")]
    assert set(report["models"]) == {"lr"} and -1 <= report["models"]["lr"]["majority"]["kappa"] <= 1
    results = [load_results(binary_dir / n, read_manifest(binary_dir / n)) for n in ("nb", "lr")]
    rows = agreement_table(results)
    assert len(rows) == 3 + 2 * (len(CODERS) + 1)  # coder pairs once, then each model with each coder and the majority


def test_twenty_classes_sorted_from_the_column(many_dir):
    manifest = read_manifest(many_dir / "nb")
    assert manifest["labels"] == sorted(MANY_LABELS) and manifest["data"]["label_order"] == "sorted"
    results = [load_results(many_dir / n, read_manifest(many_dir / n)) for n in ("nb", "lr")]
    assert per_class_table(results).shape == (20, 2)
    assert read_metrics(many_dir / "lr")["macro_f1"] > 0.5  # each class's own words are learnt


def test_models_of_different_label_sets_are_not_compared(binary_dir, trained_dir):
    results = [load_results(binary_dir / "nb", read_manifest(binary_dir / "nb")),
               load_results(trained_dir / "lr", read_manifest(trained_dir / "lr"))]
    with pytest.raises(DataError, match="cannot compare models trained on different label sets") as err:
        per_class_table(results)
    assert "\n" not in str(err.value)


def test_numbers_sort_as_numbers_and_name_classes_by_place(tmp_path):
    raw = "text,label\n" + "".join(f"post {i},{lab}\n" for i, lab in enumerate(["10", "2", "2.0", "10"]))
    data = parse_dataset(raw.encode(), "n.csv", DatasetSpec(text_col="text", label_col="label"))
    assert data.labels == ("2", "10") and data.frame["target"].tolist() == [1, 0, 0, 1]
    named = parse_dataset("text,label\na,0\nb,1\nc,no\n".encode(), "n.csv",
                          DatasetSpec(text_col="text", label_col="label", labels=("no", "yes")))
    assert named.frame["target"].tolist() == [0, 1, 0]  # a number is the name at its place


def test_a_separate_test_file_drops_test_posts_that_repeat_training_posts(tmp_path):
    train_df = labelled_posts(BINARY_LABELS, per_class=30, seed=1)
    test_df = labelled_posts(BINARY_LABELS, per_class=10, seed=2)
    test_df.loc[0, "body"] = train_df.loc[3, "body"].upper()  # the same post, differently cased
    test_df.loc[0, "label"] = train_df.loc[3, "label"]
    train_df.to_csv(tmp_path / "train.csv", index=False)
    test_df.to_csv(tmp_path / "test.csv", index=False)
    rc, out = _train(tmp_path, tmp_path / "train.csv", "--test-data", str(tmp_path / "test.csv"),
                     "--text-col", "body", "--label-col", "label")
    assert rc == 0
    manifest = read_manifest(out / "nb")
    assert manifest["data"]["test_file"] == "test.csv" and manifest["split"]["method"] == "fixed"
    assert manifest["cleaning"]["test_copies_of_train_dropped"] == 1
    assert manifest["split"]["n_test"] == 19 and manifest["split"]["train_test_overlap"] == 0
    preds = read_predictions(out / "nb")
    assert 0 not in preds["post_id"].tolist()  # the repeated post (row 0 of the test file) is gone
    assert sorted(preds["post_id"]) == list(range(1, 20))  # ids are rows of the test file


def test_a_split_column_fixes_the_test_set(tmp_path):
    df = labelled_posts(BINARY_LABELS, per_class=30)
    df["part"] = np.where(np.arange(len(df)) % 4 == 0, "Test", "train")
    df.loc[1, "part"] = "validation"  # counts as training
    df.to_csv(tmp_path / "d.csv", index=False)
    rc, out = _train(tmp_path, tmp_path / "d.csv", "--text-col", "body", "--label-col", "label",
                     "--split-col", "part")
    assert rc == 0
    assert sorted(read_predictions(out / "lr")["post_id"]) == [i for i in range(len(df)) if i % 4 == 0]


def _write(tmp_path, df: pd.DataFrame, name="bad.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


def _free_text(df):
    return df.assign(label=[f"free text number {i}" for i in range(len(df))])


BAD = {
    "one class": (lambda df: df.assign(label="no risk"), ["--label-col", "label"], "holds 1 class(es)"),
    "a class too small": (lambda df: pd.concat([df[df["label"] == "no risk"], df[df["label"] == "at risk"].head(3)]),
                          ["--label-col", "label"], "Class 'at risk' has only 3 post(s) after cleaning"),
    "over 100 labels": (lambda df: pd.concat([df] * 4).assign(label=[f"c{i}" for i in range(4 * len(df))]),
                        ["--label-col", "label"], "distinct labels; a label column holds 2 to 100 classes"),
    "free text labels": (_free_text, ["--label-col", "label"], "looks like free text or ids"),
    "a column of ids as labels": (lambda df: df.assign(post=[f"p{i}" for i in range(len(df))]),
                                  ["--label-col", "post"], "looks like free text or ids"),
    "a missing column": (lambda df: df, ["--label-col", "class"], "has no column named 'class' (--label-col)"),
    "a duplicate column": (lambda df: df.rename(columns={"author": "label"}), ["--label-col", "label"],
                           "2 columns named 'label'"),
    "empty texts": (lambda df: df.assign(body=""), ["--label-col", "label"], "column 'body' is empty in every row"),
    "an empty label": (lambda df: df.assign(label=["", *df["label"][1:]]), ["--label-col", "label"],
                       "row 2, column 'label' is empty"),
    "one group": (lambda df: df.assign(author="same"), ["--label-col", "label", "--group-col", "author"],
                  "holds one group"),
    "HTML in a label": (lambda df: df.assign(label=np.where(df["label"] == "at risk", "<b>at risk</b>", "no")),
                        ["--label-col", "label"], "holds characters outside letters, digits"),
    "a terminal escape in a label": (lambda df: df.assign(label=np.where(df["label"] == "at risk", "x\x1b[31m", "n")),
                                     ["--label-col", "label"], "holds characters outside letters, digits"),
    "markdown in --labels": (lambda df: df, ["--label-col", "label", "--labels", "no risk,**at risk**"],
                             "--labels: class name number 2 holds characters"),
    "a label --labels lacks": (lambda df: df, ["--label-col", "label", "--labels", "no risk,risky"],
                               "holds a label that is none of the 2 classes"),
    "text without labels": (lambda df: df, [], "--text-col and --label-col go together"),
    "one column, two roles": (lambda df: df, ["--label-col", "label", "--group-col", "label"],
                              "one column is named for two roles"),
    "one coder": (lambda df: df.assign(c1=df["label"]), ["--label-col", "label", "--coder-cols", "c1"],
                  "--coder-cols needs at least two"),
    "a bad split value": (lambda df: df.assign(part="holdout"), ["--label-col", "label", "--split-col", "part"],
                          "is neither train nor test"),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_datasets_are_one_line_and_write_nothing(case, tmp_path, capsys):
    change, args, message = BAD[case]
    data = _write(tmp_path, change(labelled_posts(BINARY_LABELS, per_class=30, group_col="author")))
    rc, out = _train(tmp_path, data, "--text-col", "body", *args)
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if "error: " in ln]
    assert rc == 2 and len(lines) == 1, err
    assert message in lines[0], lines[0]
    assert "\x1b" not in err and "<b>" not in err and "free text number" not in err  # cells are never quoted
    assert not out.exists()


def test_evaluate_maps_a_file_onto_the_models_labels_with_coders(binary_dir, binary_csv, tmp_path, capsys):
    ext = pd.read_csv(binary_csv).head(40).replace({"label": {"no risk": "fine", "at risk": "danger"}})
    for c in CODERS:
        ext[c] = ext[c].replace({"no risk": "fine", "at risk": "danger"})
    path = _write(tmp_path, ext, "external.csv")
    out = tmp_path / "ev.json"
    argv = ["--models-dir", str(binary_dir), "--data", str(path), "--text-col", "body", "--label-col", "label",
            "--label-map", "fine=no risk,danger=1", "--coder-cols", ",".join(CODERS), "--json", str(out)]
    assert evaluate_cli.main(argv) == 0
    res = json.loads(out.read_text())
    assert {m["model"] for m in res["models"]} == {"nb", "lr"}
    assert set(res["models"][0]["prediction_share"]) == set(BINARY_LABELS)
    assert set(res["coder_agreement"]["models"]) == {"nb", "lr"} and res["coder_agreement"]["n_items"] == 40
    printed = capsys.readouterr().out
    assert "Krippendorff's alpha" in printed and "lr vs majority of coders" in printed
    assert evaluate_cli.main(argv[:-2] + ["--label-map", "fine=stress"]) == 2
    assert "none of the models' classes (no risk, at risk, or 0-1)" in capsys.readouterr().err
    # a file labelled as the models were trained needs no map: their own names (or numbers)
    own = _write(tmp_path, pd.read_csv(binary_csv).head(40), "own.csv")
    assert evaluate_cli.main(["--models-dir", str(binary_dir), "--data", str(own), "--text-col", "body",
                              "--label-col", "label", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["dropped_unmapped"] == 0 and "macro-F1" in capsys.readouterr().out


def test_mixed_label_sets_are_refused_by_evaluate_and_scored_by_score(binary_dir, trained_dir, binary_csv, tmp_path,
                                                                      capsys):
    mixed = tmp_path / "mixed"
    shutil.copytree(binary_dir / "nb", mixed / "nb")
    shutil.copytree(trained_dir / "lr", mixed / "lr")
    argv = ["--models-dir", str(mixed), "--data", str(binary_csv), "--text-col", "body", "--label-col", "label",
            "--label-map", "no risk=0"]
    assert evaluate_cli.main(argv) == 2
    assert "cannot evaluate together models trained on different label sets" in capsys.readouterr().err
    out = tmp_path / "scores.csv"
    assert score_cli.main(["--models-dir", str(mixed), "--data", str(binary_csv), "--text-col", "body",
                           "--out", str(out)]) == 0
    header = out.read_text().splitlines()[0].split(",")
    assert "nb_p_no_risk" in header and "lr_p_personality_disorder" in header


def test_the_probe_deletes_the_words_of_the_models_label_names(binary_dir, tmp_path):
    out = tmp_path / "p.json"
    assert probe_cli.main(["--models-dir", str(binary_dir), "--json", str(out)]) == 0
    res = json.loads(out.read_text())["models"]
    assert [r["words"] for r in res] == [["risk*"], ["risk*"]]
    assert set(res[0]["variants"]["as written"]["recall"]) == set(BINARY_LABELS)


def test_bert_takes_its_labels_from_the_dataset(binary_csv, tiny_encoder, tmp_path):
    rc, out = _train(tmp_path, binary_csv, *BINARY_ARGS, "--bert-model", str(tiny_encoder), "--epochs", "1",
                     "--max-steps", "3", "--max-length", "32", "--stride", "8", "--batch-size", "8", models="bert")
    assert rc == 0
    config = json.loads((out / "bert" / "config.json").read_text())
    assert config["id2label"] == {"0": "no risk", "1": "at risk"}
    clf = load_classifier(out / "bert")
    assert clf.labels == BINARY_LABELS and clf.predict_proba(["x"]).shape == (1, 2)
    assert "coder_agreement" in read_metrics(out / "bert")


def test_explain_takes_a_class_by_its_name(binary_dir, capsys):
    from mhexplain.cli import explain as explain_cli

    base = ["a post about risk and more words", "--models-dir", str(binary_dir), "--model", "lr",
            "--method", "linear"]
    assert explain_cli.main(base + ["--target", "At Risk"]) == 0
    assert "explaining at risk with LINEAR" in capsys.readouterr().out
    assert explain_cli.main(base + ["--target", "1"]) == 0
    assert "explaining at risk" in capsys.readouterr().out
    assert explain_cli.main(base + ["--target", "stress"]) == 2
    assert "none of the model's classes (no risk, at risk) nor a class id 0-1" in capsys.readouterr().err


def test_numbers_are_read_exactly_and_may_be_negative():
    raw = "text,label\n" + "".join(f"p{i},{v}\n" for i, v in enumerate(
        ["9007199254740993", "9007199254740992", "-1", "0", "1.0", "1"]))
    data = parse_dataset(raw.encode(), "n.csv", DatasetSpec(text_col="text", label_col="label"))
    assert data.labels == ("-1", "0", "1", "9007199254740992", "9007199254740993")
    assert data.frame["target"].tolist() == [4, 3, 0, 1, 2, 2]


def test_numbered_classes_are_never_read_as_places(tmp_path):
    from mhexplain.cli.explain import class_index
    from mhexplain.evaluation.external import own_labels_map, parse_label_map

    labels = ("1", "2")
    assert parse_label_map("one=1,two=2", labels) == {"one": 0, "two": 1}
    with pytest.raises(DataError, match="none of the models' classes"):
        parse_label_map("zero=0", labels)
    assert own_labels_map(labels) == {"1": 0, "2": 1}
    assert class_index("2", labels) == 1
    with pytest.raises(Exception, match="none of the model's classes \\(1, 2\\)\\.$"):
        class_index("0", labels)


def test_a_test_file_never_changes_the_training_set(tmp_path):
    train_df = labelled_posts(BINARY_LABELS, per_class=30, seed=1)
    test_df = labelled_posts(BINARY_LABELS, per_class=10, seed=2)
    for k in range(3):  # training posts repeated in the test file under the other label
        test_df.loc[k, "body"] = train_df.loc[k, "body"]
        test_df.loc[k, "label"] = BINARY_LABELS[1 - BINARY_LABELS.index(train_df.loc[k, "label"])]
    train_df.to_csv(tmp_path / "train.csv", index=False)
    test_df.to_csv(tmp_path / "test.csv", index=False)
    rc, out = _train(tmp_path, tmp_path / "train.csv", "--test-data", str(tmp_path / "test.csv"),
                     "--text-col", "body", "--label-col", "label", models="nb")
    manifest = read_manifest(out / "nb")
    assert rc == 0 and manifest["split"]["n_train"] == 60  # every training post kept
    assert manifest["cleaning"]["test_copies_of_train_dropped"] == 3
    assert manifest["cleaning"]["conflicting_label_rows_dropped"] == 0


def test_coders_may_code_the_test_file_alone(tmp_path):
    train_df = labelled_posts(BINARY_LABELS, per_class=30, seed=1)
    test_df = labelled_posts(BINARY_LABELS, per_class=10, seed=2)
    test_df["c1"], test_df["c2"] = test_df["label"], test_df["label"]
    test_df.loc[:4, "c2"] = ""
    train_df.to_csv(tmp_path / "train.csv", index=False)
    test_df.to_csv(tmp_path / "test.csv", index=False)
    rc, out = _train(tmp_path, tmp_path / "train.csv", "--test-data", str(tmp_path / "test.csv"),
                     "--text-col", "body", "--label-col", "label", "--coder-cols", "c1,c2", models="nb")
    assert rc == 0
    report = read_metrics(out / "nb")["coder_agreement"]
    assert report["pairs"][0]["kappa"] == 1.0 and report["pairs"][0]["n"] == 15


def test_label_names_without_words_probe_nothing_and_mask_nothing(tmp_path, capsys):
    df = labelled_posts(("0", "1"), per_class=30)
    data = _write(tmp_path, df, "numbered.csv")
    rc, out = _train(tmp_path, data, "--text-col", "body", "--label-col", "label", models="nb")
    assert rc == 0
    assert probe_cli.main(["--models-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "nb: its class names hold no word to delete; give some with --words FILE" in printed
    rc, out2 = _train(tmp_path, data, "--text-col", "body", "--label-col", "label", "--mask-words", models="nb")
    assert rc == 2 and "the class names (0, 1) hold no word to delete" in capsys.readouterr().err


MORE_BAD = {
    "a class of 6 posts": (lambda df: pd.concat([df[df["label"] == "no risk"], df[df["label"] == "at risk"].head(6)]),
                           ["--label-col", "label"], "Class 'at risk' has only 6 post(s) after cleaning; each class "
                                                     "needs at least 7"),
    "an empty coder column": (lambda df: df.assign(c1=df["label"], c2=""), ["--label-col", "label", "--coder-cols",
                                                                            "c1,c2"],
                              "coder column 'c2' is empty in every row"),
    "a comma in a label": (lambda df: df.assign(label=np.where(df["label"] == "at risk", "risk, high", "none")),
                           ["--label-col", "label"], "holds a label (first in row"),
}


@pytest.mark.parametrize("case", list(MORE_BAD))
def test_more_bad_datasets_are_one_line(case, tmp_path, capsys):
    change, args, message = MORE_BAD[case]
    data = _write(tmp_path, change(labelled_posts(BINARY_LABELS, per_class=30)))
    rc, out = _train(tmp_path, data, "--text-col", "body", *args)
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "error: " in ln]
    assert rc == 2 and len(lines) == 1 and message in lines[0], lines
    assert not out.exists()


def test_a_manifest_whose_labels_were_reordered_is_refused(binary_dir, tmp_path):
    from mhexplain.core.errors import ArtifactError

    folder = tmp_path / "nb"
    shutil.copytree(binary_dir / "nb", folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["labels"] = manifest["labels"][::-1]  # the names would be shown on each other's classes
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ArtifactError, match="probability columns are not in the order of the manifest's labels"):
        read_predictions(folder)


def test_berts_validation_slice_holds_every_class():
    from mhexplain.training.bert import validation_size

    assert validation_size(4000, 0.1, 5) == 0.1  # the Kaggle file: a tenth, as before
    assert validation_size(120, 0.1, 20) == 20  # 20 classes of 6 training posts: one each
    _, val = train_test_split(
        np.arange(120), test_size=validation_size(120, 0.1, 20), stratify=np.arange(120) % 20, random_state=0)
    assert len(set((val % 20).tolist())) == 20


def test_score_reads_the_columns_the_models_were_trained_on(binary_dir, binary_csv, tmp_path):
    out = tmp_path / "s.csv"
    assert score_cli.main(["--models-dir", str(binary_dir), "--data", str(binary_csv), "--out", str(out)]) == 0
    scored = pd.read_csv(out, keep_default_na=False)
    assert len(scored) == 90 and (scored["note"] == "").all()  # body and headline read, as in training


def test_evaluate_warns_on_the_file_the_models_were_trained_on(binary_dir, binary_csv, capsys):
    argv = ["--models-dir", str(binary_dir), "--data", str(binary_csv), "--text-col", "body", "--label-col", "label"]
    assert evaluate_cli.main(argv) == 0
    assert "warning: nb, lr were trained on this very file" in capsys.readouterr().out


def test_coders_who_never_code_the_same_test_post_are_refused_before_training(tmp_path, capsys):
    train_df = labelled_posts(BINARY_LABELS, per_class=30, seed=1)
    test_df = labelled_posts(BINARY_LABELS, per_class=10, seed=2)
    half = np.arange(len(test_df)) % 2 == 0
    test_df["c1"] = np.where(half, test_df["label"], "")
    test_df["c2"] = np.where(half, "", test_df["label"])
    train_df.to_csv(tmp_path / "train.csv", index=False)
    test_df.to_csv(tmp_path / "test.csv", index=False)
    rc, out = _train(tmp_path, tmp_path / "train.csv", "--test-data", str(tmp_path / "test.csv"),
                     "--text-col", "body", "--label-col", "label", "--coder-cols", "c1,c2", models="nb")
    assert rc == 2 and "no test post was coded by two of the --coder-cols" in capsys.readouterr().err
    assert not out.exists()
