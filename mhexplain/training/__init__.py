"""Training as a library: the configuration, the shared steps, and each kind of model's trainer."""
