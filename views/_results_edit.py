"""The results page's edits of one run: rename, delete (with its model file), download its verified model."""
import functools

import pandas as pd
import streamlit as st

from fmnist import summary
from fmnist.artifacts import ArtifactError
from fmnist.store import Store, StoreError
from views._common import lab_settings, store


def _rename(run_id: int) -> None:
    name = st.session_state[f"new_name_{run_id}"]
    try:
        store().rename(run_id, name)
        st.session_state["edit_msg"] = ("success", f"Run #{run_id} renamed to “{name.strip()}”.")
    except StoreError as exc:
        st.session_state["edit_msg"] = ("error", str(exc))


def _delete(run_id: int) -> None:
    try:
        summary.delete_run(store(), lab_settings(), run_id)
        st.session_state["edit_msg"] = ("success", f"Run #{run_id} and its model file were deleted.")
    except StoreError as exc:
        st.session_state["edit_msg"] = ("error", str(exc))
    st.session_state["confirm_delete"] = False


def edit_runs(db: Store, frame: pd.DataFrame) -> None:
    st.subheader("Rename, delete or download a run")
    kind, text = st.session_state.pop("edit_msg", (None, None))
    if frame.empty:
        st.info("No runs match. Start one on the Train page, or clear the filters.")
        if kind:
            getattr(st, kind)(text)
        return
    names = dict(zip(frame["Run"].tolist(), frame["Model"]))
    run = db.get(st.selectbox("Run", list(names), key="edit_run", format_func=lambda i: f"#{i} {names[i]}"))
    left, right = st.columns(2)
    left.text_input("New name", value=run.name, key=f"new_name_{run.id}", max_chars=80)  # one field a run
    left.button("Rename", on_click=_rename, args=(run.id,))
    right.checkbox(f"Yes, delete run #{run.id} and its model file", key="confirm_delete")
    right.button("Delete", on_click=_delete, args=(run.id,), disabled=not st.session_state.get("confirm_delete"))
    if kind:
        getattr(st, kind)(text)
    if run.model_path:
        try:
            summary.check_model(run)
            st.download_button(f"Download the model of run #{run.id}", functools.partial(summary.model_bytes, run),
                               summary.model_filename(run), "application/octet-stream", icon=":material/download:")
        except ArtifactError as exc:
            st.error(str(exc))
