"""The command-line interfaces, each generated from its settings dataclass."""
