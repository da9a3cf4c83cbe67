"""Classroom mode for the pages: its settings (environment or secrets.toml) and the optional class password."""
from __future__ import annotations

import os

import streamlit as st

from fmnist import classroom

CLASS_COOKIE = "fmnist_class"


def _secrets() -> dict:
    try:
        return {k: st.secrets[k] for k in (classroom.INSTRUCTOR_KEY, classroom.CLASS_KEY) if k in st.secrets}
    except (FileNotFoundError, st.errors.StreamlitSecretNotFoundError):  # no secrets.toml: the lab runs without
        return {}


def classroom_config() -> classroom.ClassroomConfig:
    """Read on every run (cheap), so a changed secrets.toml counts without a server restart."""
    return classroom.config_from(os.environ, _secrets())


def _join(class_hash: str) -> None:
    if classroom.check_password(st.session_state.get("class_password", ""), class_hash):
        st.session_state["class_member"] = True
        token = classroom.class_token(class_hash)  # kept by the browser: a reload does not ask again
        st.session_state["class_cookie"] = (f"<script>document.cookie = \"{CLASS_COOKIE}={token}; "
                                            "Max-Age=43200; Path=/; SameSite=Lax\";</script>")
    else:
        st.session_state["class_wrong"] = True


def class_gate(config: classroom.ClassroomConfig) -> bool:
    """True when the class password is not set, or this browser has given it; else shows the form."""
    if not config.class_hash or st.session_state.get("class_member") or \
            classroom.token_ok(st.context.cookies.get(CLASS_COOKIE), config.class_hash):
        if "class_cookie" in st.session_state:
            st.html(st.session_state.pop("class_cookie"), unsafe_allow_javascript=True)
        return True
    st.title("Fashion-MNIST Lab")
    with st.form("join"):
        st.text_input("Class password", type="password", key="class_password",
                      help="Your instructor gives it out at the start of the class.")
        st.form_submit_button("Join the class", on_click=_join, args=(config.class_hash,))
    if st.session_state.pop("class_wrong", False):
        st.error("That is not the class password. Ask your instructor for it and try again.")
    return False
