"""Model folders: written atomically with a manifest, checked and loaded back."""
