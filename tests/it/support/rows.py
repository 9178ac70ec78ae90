# Prepended to the Python snippets that compare a dataset's rows with the JSONL records
# (tests/it/dataset.rs, tests/wheel.py).
import datetime


def plain(value):
    """A row's value as its JSONL record holds it: timestamps as their ISO text."""
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value
