"""Fashion-MNIST Lab: routing and the sidebar only; every page lives in views/."""
import streamlit as st

from fmnist import data, names, system
from fmnist.classroom import ClassroomError
from fmnist.settings import SettingsError
from fmnist.store import StoreError
from views._classroom import class_gate, classroom_config
from views._common import lab_settings, store

st.set_page_config(page_title="Fashion-MNIST Lab", page_icon=":material/checkroom:", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/data.py", title="Data", icon=":material/grid_view:"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    st.Page("views/sweeps.py", title="Sweeps", icon=":material/tune:"),
    st.Page("views/results.py", title="Results", icon=":material/leaderboard:"),
    st.Page("views/inside.py", title="Inside", icon=":material/neurology:"),
    st.Page("views/sketch.py", title="Sketch", icon=":material/draw:"),
]


@st.cache_data(ttl=60)
def _sidebar_facts(home: str) -> dict:
    settings = lab_settings()
    return {"workspace": home, "data": data.data_location(settings), "gpu": system.gpu_summary()}


def _keep_name() -> None:
    st.session_state["name_cookie"] = names.cookie_script(st.session_state["user_name"])


def sidebar() -> None:
    facts = _sidebar_facts(str(lab_settings().home))
    if "user_name" not in st.session_state:  # a reload or a new tab: the name this browser keeps
        st.session_state["user_name"] = names.from_cookies(st.context.cookies)
    with st.sidebar:
        st.text_input("Your name", key="user_name", max_chars=names.MAX_LENGTH, on_change=_keep_name,
                      help="Shown beside the runs you start, so a class can tell them apart. This browser keeps "
                           "it (a cookie), through a reload and in a new tab.")
        if script := st.session_state.pop("name_cookie", None):
            st.html(script, unsafe_allow_javascript=True)
        st.caption(f"**Workspace** `{facts['workspace']}`  \n**Dataset** `{facts['data']}`  \n**GPU** {facts['gpu']}")


try:
    store()
    classroom = classroom_config()
except (StoreError, SettingsError, ClassroomError) as exc:  # a bad setting, workspace or runs.db: say what to do
    st.error(str(exc))
    st.stop()
if not class_gate(classroom):  # a class password, when one is set
    st.stop()
sidebar()
INSTRUCTOR = [st.Page("views/instructor.py", title="Instructor", icon=":material/school:")] if classroom.on else []
st.navigation(PAGES + INSTRUCTOR).run()
