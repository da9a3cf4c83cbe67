"""What every page shares: settings, the store and its supervisor (one each per server), the dataset,
the user's name."""
from __future__ import annotations

import streamlit as st

from fmnist import data, names, settings as settings_mod, supervisor
from fmnist.store import Store


@st.cache_resource
def lab_settings():
    s = settings_mod.load()
    s.ensure_dirs()
    return s


@st.cache_resource
def _store(where: str) -> Store:
    """One store per server: its engine's pool gives every session's thread a connection of its own."""
    return Store.open(lab_settings())


@st.cache_resource(show_spinner="Loading Fashion-MNIST…")
def dataset() -> data.Split:
    """The notebook's split: one copy per server, shared with the sketch page's nearest-image search."""
    return data.shared_split(lab_settings())


def store() -> Store:
    s = lab_settings()
    supervisor.ensure_thread(s)  # one per server: it alone starts queued runs and reaps dead ones
    return _store(s.database_url or str(s.db_path))


def user_name() -> str:
    """The name shown beside the runs a user starts; the browser keeps it (fmnist.names), so it stays."""
    if "user_name" in st.session_state:
        return names.clean(st.session_state["user_name"])
    return names.from_cookies(st.context.cookies)
