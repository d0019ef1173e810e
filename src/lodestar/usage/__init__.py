"""Usage: per-asset, per-day usage counts and popularity (`store.py`)."""
