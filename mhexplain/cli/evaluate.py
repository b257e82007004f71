"""External validation: how the trained models do on any labelled CSV the project has never seen.

    python -m mhexplain.evaluate --models-dir DIR --data FILE --text-col COL [--title-col COL]
        --label-col COL --label-map "their_label=our_class,..." [--json OUT] [--chunk-size N]
        [--where COL=VALUE ...] [--recalibrate NEW_MODELS_DIR]

With ``--recalibrate``, each model's temperature and abstention threshold are refitted on the
file's labelled posts (a sample of a new source) and saved as a calibration variant in a new
models folder, the originals untouched (``mhexplain.artifacts.variant``); the before/after is
measured by cross-validation on the sample (``mhexplain.trust.recalibration``).

What is measured, and how the file is read: ``mhexplain.evaluation.external``.
"""
from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from mhexplain.cli.args import group, option, parse
from mhexplain.cli.command import run_command
from mhexplain.cli.options import CsvInput, ModelsOptions
from mhexplain.core.hashing import sha256_file
from mhexplain.core.outputs import check_output_dir, check_output_file, write_atomic
from mhexplain.core.progress import Progress
from mhexplain.core.textsafe import printable
from mhexplain.datasets.csvfile import CsvColumns, named_columns
from mhexplain.evaluation.agreement import KAPPA_COLUMN, agreement_rows, agreement_summary
from mhexplain.evaluation.external import (
    COLUMN_OPTIONS,
    ONE_CLASS,
    evaluate_file,
    models_labels,
    own_labels_map,
    parse_label_map,
    parse_where,
)
from mhexplain.evaluation.recalibration import (
    check_recalibratable,
    check_variant_folder,
    fit_variants,
    recalibration_sentence,
    save_variants,
)
from mhexplain.preprocess import parallel
from mhexplain.scoring.inputs import TRUNCATED
from mhexplain.scoring.shift import no_shift_test, shares_table, shift_reference, shift_sentence, training_shares

PROG = "python -m mhexplain.evaluate"


@dataclass
class EvaluateSettings:
    source: CsvInput = group(CsvInput, title="input")
    text_col: str = option(help="the column of the post's text")
    label_col: str = option(help="the column of the file's labels")
    label_map: str | None = option(None, 'the file\'s labels as the models\' classes (a class name or its number '
                                         '0..K-1); labels left out are dropped and counted, e.g. '
                                         '"Anxiety=anxiety,Depression=depression,BPD=3" (default: the file uses the '
                                         'models\' own class names or numbers)', empty=False)
    title_col: str | None = option(None, "the column of the post's title, if the file has one")
    coder_cols: tuple[str, ...] = option((), "columns of human coders' labels (mapped by --label-map as the label "
                                             "column is): agreement between coders and with each model")
    where: tuple[str, ...] = option((), "read only the rows whose column COL holds VALUE, given as COL=VALUE; "
                                        "repeat the flag for several conditions (a row must meet all)", repeat=True,
                                    metavar="COL=VALUE")
    json: Path | None = option(None, "write the results here")
    recalibrate: Path | None = option(None, "refit each model's temperature and abstention threshold on this file's "
                                            "labelled posts (a sample of a new source, 100 posts or more) and save "
                                            "them as calibration variants in this new models folder; the models "
                                            "are left as they are", metavar="NEW_MODELS_DIR", empty=False)
    models: ModelsOptions = group(ModelsOptions, title="models")

    def problems(self) -> list[str]:
        return [f"{flag} names no column" for flag, name in (("--text-col", self.text_col),
                                                              ("--label-col", self.label_col)) if not name.strip()]


def evaluate(s: EvaluateSettings) -> dict:
    """Check the label map, the file's header and the output path, then load the models and measure."""
    t0 = time.perf_counter()
    data = s.source.data
    where = parse_where(s.where)
    columns = named_columns(COLUMN_OPTIONS, (s.text_col, s.title_col, s.label_col))
    columns |= {f"--coder-cols {c}": c for c in s.coder_cols} | {f"--where {c}": c for c, _ in where}
    CsvColumns(data, columns).close()  # the header, first
    if s.json:
        check_output_file(s.json, "--json", inputs=(data,), protected=(s.models.models_dir,))
    if s.recalibrate:
        check_variant_folder(s.recalibrate, s.models.models_dir)
        check_output_dir(s.recalibrate, "--recalibrate")
        check_recalibratable(s.models.select(), s.recalibrate)
    models = s.models.load()  # a folder that cannot be used is refused here, in one line
    labels = models_labels(models)
    label_map = parse_label_map(s.label_map, labels) if s.label_map else own_labels_map(labels)
    infos = s.models.select()
    reference = shift_reference(infos)
    collected: dict = {}
    with parallel(), Progress("evaluating", "row") as bar:
        res = evaluate_file(models, data, s.text_col, s.label_col, label_map, s.title_col, s.source.chunk_size,
                            bar.update, s.coder_cols, where, reference, collected)
    res.setdefault("shift", no_shift_test())
    res["training_share"] = training_shares(infos)
    res["seconds"] = time.perf_counter() - t0
    trained_on = training_file_of(infos, sha256_file(data))
    if trained_on:
        res["warning"] = (f"{', '.join(trained_on)} {'was' if len(trained_on) == 1 else 'were'} trained on this very "
                          "file: most of its rows were training posts, so these figures flatter the models (their "
                          "test posts are in metrics.json)")
    if s.recalibrate:
        res["recalibration"] = recalibrated(s, models, infos, collected)
    if s.json:
        write_atomic(s.json, json.dumps(res, indent=2))
    return res


def recalibrated(s: EvaluateSettings, models: dict, infos, collected: dict) -> dict:
    """Fit every model's variant (all before any is written), then write them all."""
    fitted = fit_variants(models, collected["y"], collected["proba"])
    sample = {"file": s.source.data.name, "sha256": sha256_file(s.source.data), "posts": int(len(collected["y"])),
              "label_map": s.label_map, "where": list(s.where)}
    written = save_variants(s.recalibrate, infos, fitted, sample)
    return {"out": str(s.recalibrate), "folders": [str(p) for p in written], "sample": sample, "models": fitted}


def training_file_of(infos, digest: str) -> list[str]:
    """The models whose training file (not a separate test file) has this SHA-256."""
    return [i.name for i in infos if ((i.manifest or {}).get("data") or {}).get("sha256") == digest]


def report(res: dict) -> None:
    if "warning" in res:
        print(f"warning: {res['warning']}")
    if res.get("filtered_out"):
        print(f"{res['filtered_out']:,} rows left out by --where")
    print(f"{res['rows']:,} rows; dropped {res['dropped_unmapped']:,} with unmapped labels and "
          f"{res['dropped_empty']:,} without text; {res['truncated']:,} {TRUNCATED} ({res['seconds']:.1f} s)")
    for m in res["models"]:
        rec = ", ".join(f"{k} {v['recall']:.2f} [{v['ci'][0]:.2f}-{v['ci'][1]:.2f}] (n={v['n']})"
                        for k, v in m["recall"].items())
        top = max(m["prediction_share"], key=m["prediction_share"].get)
        f1 = m["macro_f1_present_classes"]
        macro = f"macro-F1 {f1:.3f} over {len(m['recall'])} classes" if f1 is not None else "one class"
        print(f"{m['model']}: {macro}; ECE {m['ece']:.3f} (a perfectly calibrated model would score "
              f"{m['ece_floor']:.3f}); recall {rec}; most predicted: {top} ({m['prediction_share'][top]:.0%})")
    if any(m["macro_f1_present_classes"] is None for m in res["models"]):
        print(ONE_CLASS)
    if "coder_agreement" in res:
        report_agreement(res["coder_agreement"])
    if "recalibration" in res:
        for name, fitted in res["recalibration"]["models"].items():
            print(recalibration_sentence(name, fitted))
        print(f"calibration variants written to {printable(res['recalibration']['out'])} (the models are unchanged); "
              "use them with --models-dir, or add the folder to MHX_MODELS_DIR for the app")
    if "shift" in res:
        report_shift(res["shift"])
        table = shares_table({"training_share": res.get("training_share"),
                              "prediction_share": {m["model"]: m["prediction_share"] for m in res["models"]}})
        if res["shift"]["detected"] and table is not None:
            print(table.to_string(index=False, float_format=lambda x: f"{x:.0%}"))


def report_shift(shift: dict) -> None:
    """One line on whether the posts are unlike the models' training data, with its evidence."""
    line = shift_sentence(shift)
    print(f"warning: {line[0].lower()}{line[1:]}" if shift["detected"] else line)


def report_agreement(report: dict) -> None:
    """The coders' and the models' Cohen's kappa, a row each, and each model's plain verdict."""
    alpha = report["alpha"]
    print(f"coder agreement on {report['n_items']:,} posts: Krippendorff's alpha {_number(alpha['value'])} "
          f"[{_number(alpha['ci'][0])}, {_number(alpha['ci'][1])}]")
    for row in agreement_rows(report):
        print(f"  {printable(row['between'])} vs {printable(row['and'])}: kappa {_number(row[KAPPA_COLUMN])} "
              f"[{row['95% interval']}] on {row['items']:,} posts")
    for model in report["models"]:
        print(printable(agreement_summary(report, model)))


def _number(x) -> str:
    return "n/a" if x is None else f"{x:.2f}"


def main(argv=None) -> int:
    s = parse(EvaluateSettings, argv, PROG, __doc__.splitlines()[0])
    return run_command(lambda: evaluate(s), report, writing=[s.json, s.recalibrate])


if __name__ == "__main__":
    sys.exit(main())
