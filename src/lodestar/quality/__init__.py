"""Data quality: test results over time (`store.py`); definitions, runner and SLAs to come."""
