"""Making untrusted text harmless where it is shown: markdown, terminals, spreadsheets.

Posts, uploaded files and their column names come from people we do not trust. Each place
that shows them gets the escaping it needs; nothing is filtered away, so what a user wrote
stays readable.
"""
from __future__ import annotations

import re
import unicodedata

import pandas as pd

# Every ASCII punctuation mark that CommonMark, GitHub's extensions (autolinks: "www.", "https:")
# or Streamlit's (":red[...]", ":material/icon:", "$math$") give a meaning; CommonMark lets a
# backslash escape each of them.
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&])")
_LINE_BREAKS = re.compile(r"[\r\n\u2028\u2029]+")


# GitHub's autolinks ("www.x.org", "https://x.org", "a@b.org") are found in the text after its
# backslash escapes are gone, so escaping cannot stop them: an invisible word joiner (U+2060) set
# inside each pattern does, and leaves the text reading as it was written. Streamlit's own
# directives (":material/warning:" icons, ":smile:" emoji, ":red[...]" colours) also survive
# backslash escapes, so a colon followed by a letter gets the joiner too.
WORD_JOINER = "\u2060"
_AUTOLINK_START = re.compile(r"(?i)(www)(?=\.)|(:)(?=//|[a-z])|(?=@)")


def _break_autolinks(text: str) -> str:
    return _AUTOLINK_START.sub(lambda m: (m.group(1) or m.group(2) or "") + WORD_JOINER, text)


def escape_markdown(text: str) -> str:
    """``text`` as literal markdown: no links (autolinks included), images, HTML, emphasis or
    directives; one line."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", _break_autolinks(_LINE_BREAKS.sub(" ", str(text))))


# Bidirectional overrides and isolates can make a terminal line read differently from its bytes.
_BIDI_CONTROLS = set("\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escape_char(ch: str) -> str:
    cp = ord(ch)
    return f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}"


def printable(text: str) -> str:
    """``text`` safe to print to a terminal: control characters (ESC, BEL, CR, C1 codes) and
    bidirectional overrides are shown as ``\\x1b``-style escapes instead of acting."""
    out = []
    for ch in str(text):
        if ch in _BIDI_CONTROLS or (unicodedata.category(ch) == "Cc" and ch not in "\n\t"):
            out.append(_escape_char(ch))
        else:
            out.append(ch)
    return "".join(out)


# Characters that make a spreadsheet treat a cell as a formula (OWASP "CSV injection"); tab and
# carriage return count because some spreadsheets strip them before looking.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise_formula(value):
    """A string cell that a spreadsheet would run as a formula gets a leading apostrophe."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot act as formulas."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == object or pd.api.types.is_string_dtype(out[col]):
            out[col] = out[col].map(neutralise_formula)
    out.columns = [neutralise_formula(c) for c in out.columns]
    return out
