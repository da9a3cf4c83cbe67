"""The linter runs inside the test command: `python -m pytest` fails on a ruff finding (config in pyproject.toml)."""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_ruff_finds_nothing():
    if importlib.util.find_spec("ruff") is None:
        if os.environ.get("CI"):
            pytest.fail("ruff is not installed; CI must run the linter: pip install -r requirements-test.txt")
        pytest.skip("ruff is not installed: pip install -r requirements-test.txt to lint in the tests")
    done = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=ROOT, capture_output=True, text=True)
    findings = done.stdout + done.stderr
    assert done.returncode == 0, f"ruff check found problems (fix them, or `ruff check --fix`):\n{findings}"
