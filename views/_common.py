"""What every page shares: settings, the store (one connection per server), the dataset, the user's name."""
from __future__ import annotations

import streamlit as st

from fmnist import data, jobs, settings as settings_mod
from fmnist.store import Store


@st.cache_resource
def lab_settings():
    s = settings_mod.load()
    s.ensure_dirs()
    return s


@st.cache_resource
def _store(path: str) -> Store:
    s = lab_settings()
    store = Store(s.db_path)
    jobs.refresh(store, s)  # on start-up: orphans of a restart end as failed, waiting runs start
    return store


@st.cache_resource(show_spinner="Loading Fashion-MNIST…")
def dataset(home: str) -> data.Split:
    """The notebook's split: one copy per server, shared with the sketch page's nearest-image search."""
    return data.shared_split(lab_settings())


def store() -> Store:
    return _store(str(lab_settings().db_path))


def user_name() -> str:
    """The name a user types once a session; shown beside the runs they start."""
    return st.session_state.get("user_name", "")
