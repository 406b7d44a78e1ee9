"""Shared test settings: a quick suite by default; FTT_LONG=1 runs the slow tests too."""

import os

import pytest

LONG = os.environ.get("FTT_LONG") == "1"


def pytest_collection_modifyitems(config, items):
    if LONG:
        return
    skip = pytest.mark.skip(reason="slow: set FTT_LONG=1 to run")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)
