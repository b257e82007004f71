"""The five classes of the dataset, in target order."""

LABELS: tuple[str, ...] = ("stress", "depression", "bipolar", "personality disorder", "anxiety")
DISPLAY_NAMES: tuple[str, ...] = ("Stress", "Depression", "Bipolar", "Personality disorder", "Anxiety")
NUM_LABELS = len(LABELS)
