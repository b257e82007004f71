"""Wrappers that make a model's answers trustworthy: temperature scaling with abstention, and word masking."""
