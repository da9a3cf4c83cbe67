"""The train page's actions on the open run: its whole history when it continues another, "Continue N more
epochs" from its saved model, and "Repeat with k seeds"."""
import streamlit as st

from fmnist import charts, continuing, seeds
from fmnist.config import ConfigError
from fmnist.store import QueueFull, Run, StoreError
from views._common import lab_settings, store, user_name


def run_actions(run: Run) -> None:
    run_store = store()
    if run.parent_id is not None:
        st.plotly_chart(charts.history_curves(continuing.history(run_store, run), continuing.starts(run_store, run),
                                              title=f"{run.name}: the whole history"), key="history")
    can_continue = continuing.why_not(run) is None
    can_repeat = run.parent_id is None
    if not (can_continue or can_repeat):
        return
    left, right = st.columns(2)
    if can_continue:
        with left.container(border=True):
            more = st.number_input("More epochs", 1, continuing.MAX_MORE_EPOCHS, 5, key=f"more-{run.id}")
            if st.button(f"Continue {more} more epochs", key=f"continue-{run.id}", icon=":material/fast_forward:",
                         help="A new run that starts from this run's saved model (the optimizer starts afresh) "
                              "and numbers its epochs after this run's."):
                _open(lambda: [continuing.submit(run.id, int(more), run_store, lab_settings(), user_name())])
    if can_repeat:
        with right.container(border=True):
            k = st.number_input("Other seeds", 1, seeds.MAX_SEEDS, 3, key=f"seeds-{run.id}")
            if st.button(f"Repeat with {k} seeds", key=f"repeat-{run.id}", icon=":material/casino:",
                         help="Queues this configuration again with other random seeds; the Results page shows "
                              "the group's mean and spread, so you can tell a real difference from noise."):
                _open(lambda: seeds.repeat(run, int(k), run_store, lab_settings(), user_name()))


def _open(queue) -> None:
    """Queue, then open the first new run (the whole page reruns: the picker must list it)."""
    try:
        ids = queue()
    except QueueFull as exc:
        st.warning(str(exc))
        return
    except (ConfigError, StoreError, LookupError) as exc:
        st.error("; ".join(getattr(exc, "errors", {}).values()) or str(exc))
        return
    st.query_params["run"] = str(ids[0])
    st.rerun(scope="app")
