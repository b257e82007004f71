"""Measuring trained models: metrics, comparisons, the error explorer, the shortcut probe, external validation."""
