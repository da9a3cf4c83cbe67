"""Shared by the page tests: fresh Streamlit caches, the dataset in the test's workspace, a harness app per page."""
import shutil
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from fmnist import data

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_caches():
    """Cached resources outlive an AppTest: clear them so each test's FMNIST_HOME is honoured."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


@pytest.fixture
def with_dataset(workspace, split_workspace, split):
    """The session's dataset cache copied into this test's workspace: no rebuild."""
    shutil.copy(data.cache_path(split_workspace), data.cache_path(workspace))
    return workspace


@pytest.fixture
def page(tmp_path, request):
    """AppTest of the test module's HARNESS (an app that routes to the page under test), views/ linked beside it."""
    (tmp_path / "views").symlink_to(REPO / "views")
    (tmp_path / "app.py").write_text(request.module.HARNESS)
    return lambda: AppTest.from_file(str(tmp_path / "app.py"), default_timeout=60)


def texts(elements) -> list[str]:
    return [e.value for e in elements]
