"""Sweeps: search a preset's hyperparameters with Optuna; every trial an ordinary run in the queue and the table."""
import pandas as pd
import streamlit as st

from fmnist import charts, sweep_results, sweep_store, sweeps
from fmnist.store import StoreError
from views._common import lab_settings, store
from views._sweep_form import sweep_form

POLL_S = 3  # how often an active sweep's view re-reads its trials
IMPORTANCE = {"Importance": st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.2f")}


def controls(sweep) -> None:
    if sweep.status == "active":
        st.button("Stop the sweep", key="sweep-stop", icon=":material/pause:", on_click=_act,
                  args=(sweeps.stop, sweep.id),
                  help="No new trials; its queued and running trials stop (and are tried again on resume).")
    elif sweep.status == "stopped":
        st.button("Resume the sweep", key="sweep-resume", icon=":material/play_arrow:", on_click=_act,
                  args=(sweeps.resume, sweep.id))


def _act(action, sweep_id: int) -> None:
    try:
        action(store(), lab_settings(), sweep_id)
    except (LookupError, StoreError) as exc:
        st.toast(str(exc))


def show(sweep_id: int, polling: bool) -> None:
    sweep, settings = sweep_store.get_sweep(store(), sweep_id), lab_settings()
    if polling != (sweep.status == "active"):
        st.rerun()  # start or stop polling with a fresh page
    st.subheader(f"#{sweep.id} {sweep.name}")
    progress = sweep_results.summary_line(store(), settings, sweep).split(": ", 1)[1]
    st.caption(f"{sweep.status} · {sweep.spec['sampler']} sampler · at most {sweep.spec['trials']} trials · "
               f"pruning: {sweep.spec['prune'] or 'off'} · {progress}")
    controls(sweep)
    frame, labels = sweep_results.trials_frame(store(), settings, sweep), sweep_results.param_labels(sweep)
    if best := sweep_results.best(settings, sweep):
        st.success(best.text())
    st.plotly_chart(charts.parallel_coordinates(frame, list(labels.values()), log_axes=sweep_results.log_axes(sweep)),
                    key="parcoords")
    st.caption("One line a trial. Drag along an axis to keep only the trials in that range; drag the axis's "
               "title to reorder. Yellow lines scored highest.")
    left, right = st.columns([3, 1])
    left.dataframe(frame, hide_index=True, key="trials",
                   column_config={"Val accuracy": st.column_config.NumberColumn(format="%.4f")})
    importance = sweep_results.importance(settings, sweep)
    right.markdown("**Parameter importance** (fANOVA)")
    if importance:
        right.dataframe(pd.DataFrame({"Hyperparameter": list(importance), "Importance": list(importance.values())}),
                        hide_index=True, column_config=IMPORTANCE, key="importance")
    else:
        right.caption("Shown once two trials with different values have finished.")


st.title("Sweeps")
st.caption("A sweep tries a preset with other hyperparameters: Optuna picks each trial's values (every "
           "combination of a grid, random draws, or TPE, which learns from the trials so far) and may stop a "
           "poor trial early. Each trial is an ordinary run: in the queue, stoppable, in the Results table.")
with st.expander("Start a sweep", expanded=not sweep_store.sweeps(store(), limit=1)):
    sweep_form()
known = {s.id: f"#{s.id} {s.name}" for s in sweep_store.sweeps(store())}  # its status is in the caption below
asked = st.query_params.get("sweep", "")
current = int(asked) if asked.isdigit() and int(asked) in known else next(iter(known), None)
if current is None:
    st.info("No sweep yet: start one above, or from a terminal: python -m fmnist sweep mlp1 --grid lr=0.001,0.01")
    st.stop()
pick = st.selectbox("Sweep", list(known), index=list(known).index(current), format_func=known.get,
                    key=f"pick-{current}")
if pick != current:
    st.query_params["sweep"] = str(pick)
    st.rerun()
active = sweep_store.get_sweep(store(), current).status == "active"
st.fragment(run_every=POLL_S if active else None)(show)(current, active)
