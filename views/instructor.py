"""Instructor (classroom mode only): the round's leaderboard, every student's runs, stop any run, the queue, caps."""
import streamlit as st

from fmnist import classroom
from views._classroom import classroom_config
from views._common import lab_settings, store
from views._instructor_panels import PANELS


def _login(encoded: str) -> None:
    ok = classroom.check_password(st.session_state.pop("instructor_password", ""), encoded)
    st.session_state["instructor"] = ok
    st.session_state["note"] = None if ok else ("error", "That is not the instructor password.")


st.title("Instructor")
config, db, settings = classroom_config(), store(), lab_settings()
if note := st.session_state.pop("note", None):
    getattr(st, note[0])(note[1])
if not config.on:
    st.info(f"Classroom mode is off. Set {classroom.INSTRUCTOR_KEY} (in the environment or .streamlit/secrets.toml) "
            "to the line `python -m fmnist hash-password` prints, then restart the app.")
elif not st.session_state.get("instructor"):
    with st.form("instructor_login"):
        st.text_input("Instructor password", type="password", key="instructor_password")
        st.form_submit_button("Unlock", on_click=_login, args=(config.instructor_hash,))
else:
    tabs = st.tabs(list(PANELS), key="instructor_tab", bind="query-params")
    for tab, panel in zip(tabs, PANELS.values()):
        if tab.open:
            with tab:
                panel(db, settings)
