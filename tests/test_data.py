import numpy as np
import pandas as pd
import pytest

from mhexplain.core.errors import DataError
from mhexplain.datasets.csvfile import read_table_upload
from mhexplain.datasets.dataset import DatasetSpec, check_preset_fits, parse_dataset, read_dataset_upload
from mhexplain.datasets.posts import build_corpus, clean_text, normalise_key

from .helpers import read_kaggle, synthetic_posts


def read_posts_bytes(raw: bytes, source: str = "posts.csv"):
    return read_kaggle(raw, source)


def read_upload(raw: bytes, name: str):
    return read_dataset_upload(raw, name, DatasetSpec()).frame


def test_clean_text_unescapes_entities_and_zero_width():
    assert clean_text("  Me &amp; you&#x200B;\u200b ") == "Me & you"
    assert clean_text("a&amp;#x200B;b") == "ab"  # double-escaped, as Reddit exports hold it
    assert clean_text("non\xa0breaking") == "non breaking"


def test_normalise_key_casefolds_and_collapses_whitespace():
    assert normalise_key("  Hello \n\tWORLD ") == "hello world"


def test_true_title_stays_a_string(fixture_csv):
    df = read_kaggle(fixture_csv)
    assert "True" in df["title"].tolist()
    assert df["title"].map(type).eq(str).all()


def _frame(rows):
    return pd.DataFrame(rows, columns=["title", "text", "target"])


def test_dedup_keeps_one_same_label_copy_and_drops_conflicts():
    df = _frame([
        ("A", "same post", 1), ("a", "same   POST", 1),  # same-label duplicate (normalised)
        ("B", "two labels", 0), ("B", "two labels", 3),  # conflicting labels: both dropped
        ("C", "", 2),  # title only: kept
        ("", " ", 4),  # nothing at all: dropped
        ("D", "unique", 4),
    ])
    corpus = build_corpus(df, dedup=True, clean=True, n_labels=5)
    r = corpus.report
    assert r.duplicate_copies_dropped == 1
    assert r.conflicting_label_texts == 1 and r.conflicting_label_rows_dropped == 2
    assert r.empty_posts_dropped == 1
    assert r.rows_kept == 3
    assert r.posts_per_class == [0, 1, 1, 0, 1]
    assert sorted(corpus.frame["input"]) == ["A same post", "C", "D unique"]
    assert corpus.frame["post_id"].tolist() == [0, 4, 6]


def test_reference_corpus_keeps_raw_text_and_duplicates():
    df = _frame([("A", "x &amp; y", 1), ("A", "x &amp; y", 1)])
    corpus = build_corpus(df, dedup=False, clean=False, n_labels=5)
    assert corpus.frame["input"].tolist() == ["A x &amp; y"] * 2


@pytest.mark.parametrize("content, needle", [
    (b"", "empty"),
    (b"text,title,target\n", "no rows"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00binary", "binary"),
    ("text,title,target\ncaf\xe9,t,1\n".encode("latin-1"), "UTF-8"),
    (b"body,heading,label\nx,y,1\n", "has no column named 'text' (--text-col) or 'title' (--title-col) or 'target'"),
    (b"text,title,target\nx,y,7\n", "none of the 5 classes"),
    (b"text,title,target\nx,y,sad\n", "none of the 5 classes"),
    (b"text,title,target\nx,y,1.5\n", "none of the 5 classes"),
    (b'text,title,target\n"unclosed,y,1\nx,y\n', "not a readable CSV"),
])
def test_bad_csv_gives_clear_error(content, needle):
    with pytest.raises(DataError) as err:
        read_posts_bytes(content, "upload.csv")
    msg = str(err.value)
    assert needle in msg and "\n" not in msg


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        read_kaggle(tmp_path / "nope.csv")


def test_labels_parse_to_ints(fixture_csv):
    df = read_kaggle(fixture_csv)
    assert df["target"].dtype.kind == "i"
    assert set(np.unique(df["target"])) == {0, 1, 2, 3, 4}


def test_synthetic_fixture_has_the_known_dirt():
    df = synthetic_posts()
    corpus = build_corpus(df.assign(target=df["target"].astype(int)), dedup=True, clean=True, n_labels=5)
    assert corpus.report.duplicate_copies_dropped >= 1
    assert corpus.report.conflicting_label_texts == 1
    assert corpus.report.html_entity_bodies == 5


def test_the_dataset_is_looked_for_by_one_rule(tmp_path, monkeypatch):
    """MHX_DATA as given (even naming no file, so that the error names it), else data/ in the
    project, else ../shared/data beside it, else None."""
    from mhexplain import settings

    project = tmp_path / "project"
    monkeypatch.setattr(settings, "PROJECT", project)
    monkeypatch.delenv("MHX_DATA", raising=False)
    assert settings.dataset_path() is None  # nothing anywhere
    shared = tmp_path / "shared" / "data" / settings.DATA_FILE
    shared.parent.mkdir(parents=True)
    shared.write_text("x")
    assert settings.dataset_path() == shared
    local = project / "data" / settings.DATA_FILE
    local.parent.mkdir(parents=True)
    local.write_text("x")
    assert settings.dataset_path() == local
    chosen = tmp_path / "mine.csv"
    chosen.write_text("x")
    monkeypatch.setenv("MHX_DATA", str(chosen))
    assert settings.dataset_path() == chosen
    monkeypatch.setenv("MHX_DATA", str(tmp_path / "absent.csv"))  # kept: the error will name it
    assert settings.dataset_path() == tmp_path / "absent.csv"


def test_train_the_app_and_the_benchmarks_read_the_same_dataset(tmp_path, monkeypatch):
    """The benchmarks had a rule of their own (data.default_data_path): an MHX_DATA naming no file
    was skipped there and another file benchmarked, while train named the missing file."""
    from bench._proc import Dataset
    from mhexplain.cli.args import parse
    from mhexplain.cli.train import parse_args
    from mhexplain.settings import ServerSettings

    for given in (tmp_path / "absent.csv", tmp_path / "mine.csv"):
        monkeypatch.setenv("MHX_DATA", str(given))
        assert parse(Dataset, [], "bench").data == given
        assert parse_args([]).data == ServerSettings.from_env().data_path == given


@pytest.mark.parametrize("raw", [
    b"SECRET-LINE root:x:0:0:/root:/bin/bash\ndaemon:x:1:1\n",  # a system file given as the CSV
    b"text,title,SECRET-COLUMN\nx,y,z\n",  # header without target
    b"text,title,target\nhello,SECRET-TITLE,SECRET-LABEL\n",  # a bad label
    b'text,title,target\n"SECRET-OPEN-QUOTE,a,1\n',  # an unclosed quote
    b"text,title,target\nSECRET,a,1,extra,fields\n",  # a row wider than the header
])
def test_errors_never_quote_the_file(raw, tmp_path):
    """A message that quotes the file turns any path a visitor can name into a way to read it."""
    p = tmp_path / "f.csv"
    p.write_bytes(raw)
    with pytest.raises(DataError) as err:
        read_kaggle(p)
    message = str(err.value).replace(str(p), "FILE")
    assert message.startswith("FILE") and "SECRET" not in message and "root" not in message


def test_row_numbers_count_as_a_spreadsheet_does():
    rest = b"c,t,0\nd,t,3\ne,t,4\n"  # the preset's file holds all five classes
    df = read_posts_bytes(b'text,title,target\n"two\nlines",a,1\n\nthird,b,2\n' + rest)
    assert df["row"].tolist() == [2, 4, 5, 6, 7]  # the blank line is row 3
    with pytest.raises(DataError, match="row 4, column 'target' holds a label that is none of the 5 classes .* nor a "
                                        r"class number 0-4 \(1 such row\(s\)\)"):
        read_posts_bytes(b'text,title,target\n"two\nlines",a,1\n\nthird,b,7\n' + rest)
    with pytest.raises(DataError, match="the Kaggle preset applies .* but the file holds 2 of them. For your own data "
                                        "name the columns: --text-col text --label-col target"):
        check_preset_fits(parse_dataset(b"text,title,target\na,t,0\nb,t,1\n", "posts.csv", DatasetSpec()),
                          "posts.csv")  # a file of its own under the preset's names


def test_a_limit_sample_names_its_posts_as_the_full_run_does(fixture_csv, trained_dir, tmp_path):
    """post_id is the source row, not the row's place in a --limit sample: models trained on a
    sample and on every row are compared on the posts they share (same id, text and label)."""
    from mhexplain.artifacts.folder import read_predictions
    from mhexplain.cli.train import main

    out = tmp_path / "limited"
    assert main(["--data", str(fixture_csv), "--out", str(out), "--models", "nb", "--limit", "120", "--jobs", "1",
                 "--cache-dir", str(tmp_path / "cache")]) == 0
    full, limited = read_predictions(trained_dir / "nb"), read_predictions(out / "nb")
    source = build_corpus(read_kaggle(fixture_csv), dedup=True, clean=True, n_labels=5).frame.set_index("post_id")["input"]
    for preds in (full, limited):
        assert source.loc[preds["post_id"]].tolist() == preds["text"].tolist()
    same_posts = limited.merge(full, on=["text", "true_label"], suffixes=("_limited", "_full"))
    assert len(same_posts) >= 1
    assert same_posts["post_id_limited"].tolist() == same_posts["post_id_full"].tolist()


def _csv_of_size(n_bytes: int) -> bytes:
    """A valid posts CSV of exactly ``n_bytes`` bytes, in 1,000 rows."""
    head, rows = b"text,title,target\n", 1000
    body = n_bytes - len(head)
    width = body // rows - len(b",t,1\n")
    lines = [b"a" * width + b",t,1\n"] * rows
    lines[-1] = b"a" * (width + body % rows) + b",t,1\n"
    raw = head + b"".join(lines)
    assert len(raw) == n_bytes
    return raw


def test_uploads_are_limited_in_the_megabytes_the_browser_shows():
    """Streamlit's browser side refuses files over 10 * 10**6 bytes and calls that "10MB": the
    server-side check lets through what the browser lets through, and names the same limit."""
    from mhexplain.settings import MAX_UPLOAD_BYTES, MAX_UPLOAD_MB

    assert (MAX_UPLOAD_MB, MAX_UPLOAD_BYTES) == (10, 10_000_000)
    at_limit = _csv_of_size(MAX_UPLOAD_BYTES)
    assert len(read_upload(at_limit, "posts.csv")) == len(read_table_upload(at_limit, "posts.csv", 2000)) == 1000
    over = at_limit + b"b"
    expected = r"^big\.csv is 10\.00 MB \(10,000,001 bytes\); the limit is 10 MB \(10,000,000 bytes\)\.$"
    for read in (read_upload, lambda raw, name: read_table_upload(raw, name, 2000)):
        with pytest.raises(DataError, match=expected):
            read(over, "big.csv")


def test_a_cell_over_the_limit_is_refused_whatever_the_process_wide_csv_limit(monkeypatch):
    import csv
    import sys

    from mhexplain.datasets.csvfile import MAX_CELL_CHARS

    longest = b"text,title,target\n" + b"a" * MAX_CELL_CHARS + b",t,1\n"
    too_long = b"text,title,target\nok,t,1\n" + b"a" * (MAX_CELL_CHARS + 1) + b",t,1\n"
    before = csv.field_size_limit()
    try:
        for limit in (before, sys.maxsize):  # another library may have raised it for its own files
            csv.field_size_limit(limit)
            assert len(read_posts_bytes(longest)["text"].iloc[0]) == MAX_CELL_CHARS
            with pytest.raises(DataError, match=f"a cell is longer than {MAX_CELL_CHARS:,} characters "
                                                r"\(near row 3\)"):
                read_posts_bytes(too_long)
    finally:
        csv.field_size_limit(before)


def test_sessions_reading_long_cells_side_by_side_never_refuse_each_other():
    """The csv limit was raised and restored around each record, so a session finishing its record
    put csv's default limit (131,072 characters) back while another session was reading one: a legal
    cell of 150,000 characters was refused (1 time in 60 with 4 threads). Here the two sessions are
    held in exactly that order, so the test does not depend on the scheduler meeting it."""
    import io
    import threading

    from mhexplain.datasets.csvfile import iter_csv

    row = "w" * 150_000 + ",t,1\n"
    first_is_reading, first_has_its_row = threading.Event(), threading.Event()
    both_reading = threading.Barrier(2, timeout=30)

    class Upload(io.StringIO):
        """A session's upload, arriving line by line as the scenario needs."""

        def __init__(self, first: bool) -> None:
            super().__init__("text,title,target\n" + row, newline="")
            self.first = first

        def readline(self, *args):
            line = super().readline(*args)
            if not self.first and line != row:
                first_is_reading.wait(30)  # the second session starts once the first is reading its row
            if line == row:
                first_is_reading.set()
                both_reading.wait()
                if not self.first:
                    first_has_its_row.wait(30)  # ... and finishes reading it after the first one
            return line

    outcome: dict[str, object] = {}

    def session(first: bool) -> None:
        name = "first" if first else "second"
        try:
            for number, fields in iter_csv(Upload(first), f"{name}.csv"):
                if number == 2:
                    outcome[name] = len(fields[0])
                    first_has_its_row.set()
        except DataError as err:
            outcome[name] = str(err)
            first_has_its_row.set()

    threads = [threading.Thread(target=session, args=(first,)) for first in (True, False)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert outcome == {"first": 150_000, "second": 150_000}
