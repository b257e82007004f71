"""The Streamlit app's helpers (ui, plots) beside its pages; app.py is the entry point."""
