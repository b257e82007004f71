"""Rows of a file, an upload or a pasted post as model inputs: the one rule for every way in.

A post is its title and text cleaned and joined as in training. The models read at most
``MAX_POST_CHARS`` characters of it: a longer post is cut there, and its row says so; a row
with no text gets no prediction, and its row says that.
"""
from __future__ import annotations

from collections.abc import Iterable

from mhexplain.core.classifier import MAX_POST_CHARS
from mhexplain.datasets.posts import post_text

TEXT_COLUMN, TITLE_COLUMN = "text", "title"  # what a file's columns are called unless said otherwise
NO_TEXT = "no text"
TRUNCATED = f"truncated to its first {MAX_POST_CHARS:,} characters"


def model_input(title: str, text: str) -> tuple[str, str]:
    """(what the models read of this post, a note: "" or NO_TEXT or TRUNCATED)."""
    joined = post_text(title, text)
    if not joined:
        return "", NO_TEXT
    if len(joined) > MAX_POST_CHARS:
        return joined[:MAX_POST_CHARS], TRUNCATED
    return joined, ""


def model_inputs(titles: Iterable[str] | None, texts: Iterable[str]) -> tuple[list[str], list[str]]:
    """``model_input`` for each row (``titles`` None: the rows have no title)."""
    texts = list(texts)
    pairs = [model_input(t, b) for t, b in zip([""] * len(texts) if titles is None else titles, texts)]
    return [p[0] for p in pairs], [p[1] for p in pairs]
