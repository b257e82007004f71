"""Training entry point: ``python -m train``."""
