"""The one path from rows of posts to a table of predictions, for uploads, files of any size and single posts."""
