import pytest
import streamlit as st


@pytest.fixture(autouse=True)
def fresh_caches():
    """Cached resources outlive an AppTest: clear them so each test's FMNIST_HOME is honoured."""
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()
