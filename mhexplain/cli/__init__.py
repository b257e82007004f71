"""The command-line interfaces, each generated from its settings dataclass.

- ``args``: the generator (dataclass fields -> argparse options, groups, bounds, ``problems()``).
- ``options``: the options several commands share (``--models-dir``, ``--models``, ``--data``
  with ``--chunk-size``), declared once.
- ``command``: how every command ends: its report, or one ``error:`` line and status 2.
- ``score``, ``evaluate``, ``probe``, ``explain``, ``train``: one module per command; the files
  ``python -m`` runs (``mhexplain/score.py``, ..., ``train/__main__.py``) only call their ``main``.
"""
