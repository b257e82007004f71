"""Class names: the rules every label set follows, whichever dataset it came from.

A model's labels are recorded in its folder (manifest ``labels``) and read from there by every
part of the project; nothing holds a dataset's class names as a constant. The names are shown in
pages, written into files and printed to terminals, so they are kept to characters that mean
nothing in any of them.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from mhexplain.core.errors import DataError

MIN_CLASSES = 2
# Beyond this a "label" column is almost certainly free text or ids; pages and confusion
# matrices stop being readable well before it.
MAX_CLASSES = 100
MAX_LABEL_CHARS = 60
# Letters and digits of any script, spaces, and punctuation with no meaning in markdown, HTML,
# CSV formulas or a terminal.
# No comma: --labels and --label-map are comma-separated lists. A minus sign only before a
# number ("-1": stance and sentiment codings).
_SAFE_LABEL = re.compile(r"-\d+|[^\W_]([\w .'/()+&-]*[\w.)])?")
SAFE_LABEL_RULE = ("letters, digits, spaces and - _ . ' / ( ) + &, starting with a letter or digit (or a "
                   f"negative number), at most {MAX_LABEL_CHARS} characters")


def label_problem(name: str) -> str | None:
    """Why ``name`` cannot be a class name (in words that never quote it), or None."""
    if not isinstance(name, str) or not name:
        return "is empty"
    if len(name) > MAX_LABEL_CHARS:
        return f"is longer than {MAX_LABEL_CHARS} characters"
    if not _SAFE_LABEL.fullmatch(name) or "  " in name:
        return f"holds characters outside {SAFE_LABEL_RULE}"
    return None


def check_label_set(labels: Sequence[str], where: str) -> tuple[str, ...]:
    """``labels`` as a tuple once they are 2 to 100 distinct safe names; else one line naming ``where``."""
    labels = tuple(labels)
    if not MIN_CLASSES <= len(labels) <= MAX_CLASSES:
        raise DataError(f"{where} has {len(labels)} class(es); a classifier needs {MIN_CLASSES} to {MAX_CLASSES}.")
    for k, name in enumerate(labels, start=1):
        found = label_problem(name)
        if found:
            raise DataError(f"{where}: class name number {k} {found}; rename it.")
    # p_<label> columns write spaces as underscores: "a b" and "A_b" would share one
    folded = [n.casefold().replace(" ", "_") for n in labels]
    if len(set(folded)) < len(folded):
        raise DataError(f"{where} names a class twice (ignoring case, and spaces against underscores); give each "
                        "class once.")
    return labels


def numbered(labels: Sequence[str]) -> bool:
    """Whether some class is named by a number ("1", "-1"): then a number always means that name,
    never a place in the label order."""
    return any(re.fullmatch(r"-?\d+", name) for name in labels)


def display_name(label: str) -> str:
    """A class name as a heading shows it: its first letter capitalised, the rest as written."""
    return label[:1].upper() + label[1:]


def display_names(labels: Sequence[str]) -> list[str]:
    return [display_name(lab) for lab in labels]


def common_labels(labels_of: Mapping[str, Sequence[str]], what: str = "compare") -> tuple[str, ...]:
    """The one label set that models ``labels_of`` (name -> labels) share; models trained on
    different label sets cannot be compared, and are refused in one line."""
    sets = {tuple(v) for v in labels_of.values()}
    if len(sets) > 1:
        groups: dict[tuple, list[str]] = {}
        for name, labs in labels_of.items():
            groups.setdefault(tuple(labs), []).append(name)
        told = "; ".join(f"{', '.join(names)}: {len(labs)} classes ({', '.join(labs[:3])}"
                         f"{', …' if len(labs) > 3 else ''})" for labs, names in groups.items())
        raise DataError(f"cannot {what} models trained on different label sets ({told}); choose models "
                        "trained on one dataset.")
    return next(iter(sets)) if sets else ()
