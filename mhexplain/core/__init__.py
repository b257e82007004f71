"""The foundation every layer may use: the Classifier interface, errors, text escaping, output files, progress, hashing."""
