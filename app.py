"""Fashion-MNIST Lab: routing and the sidebar only; every page lives in views/."""
import streamlit as st

from fmnist import data, system
from fmnist.settings import SettingsError
from fmnist.store import StoreError
from views._common import lab_settings, store

st.set_page_config(page_title="Fashion-MNIST Lab", page_icon=":material/checkroom:", layout="wide")

PAGES = [
    st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
    st.Page("views/data.py", title="Data", icon=":material/grid_view:"),
    st.Page("views/train.py", title="Train", icon=":material/model_training:"),
    st.Page("views/results.py", title="Results", icon=":material/leaderboard:"),
    st.Page("views/inside.py", title="Inside", icon=":material/neurology:"),
    st.Page("views/sketch.py", title="Sketch", icon=":material/draw:"),
]


@st.cache_data(ttl=60)
def _sidebar_facts(home: str) -> dict:
    settings = lab_settings()
    return {"workspace": home, "data": data.data_location(settings), "gpu": system.gpu_summary()}


def sidebar() -> None:
    facts = _sidebar_facts(str(lab_settings().home))
    with st.sidebar:
        st.text_input("Your name", key="user_name", max_chars=40,
                      help="Shown beside the runs you start, so a class can tell them apart.")
        st.caption(f"**Workspace** `{facts['workspace']}`  \n**Dataset** `{facts['data']}`  \n**GPU** {facts['gpu']}")


try:
    store()
except (StoreError, SettingsError) as exc:  # a bad setting, workspace or runs.db: say what to do, touch nothing
    st.error(str(exc))
    st.stop()
sidebar()
st.navigation(PAGES).run()
