"""The train page's live panel: the selected run's progress and curves, and the queue, re-read from the store."""
import pandas as pd
import streamlit as st

from fmnist import charts, jobs, progress
from fmnist.store import Run, StoreError
from views._common import lab_settings, store

POLL_S = 2  # how often the panel re-reads the store while anything is queued or running


def show_live(current: Run | None) -> None:
    """Polls only while something is queued or running; a finished page costs nothing."""
    polling = bool(current and current.active) or store().count(statuses=("queued", "running")) > 0
    st.fragment(run_every=POLL_S if polling else None)(live)(current.id if current else None, polling)


def stop(run_id: int) -> None:
    try:
        jobs.stop(run_id, store(), lab_settings())
    except (KeyError, StoreError) as exc:
        st.toast(str(exc).strip("'\""))


def live(run_id: int | None, polling: bool) -> None:
    runs = store()
    active = jobs.active_runs(runs, lab_settings())  # reaps dead workers and starts waiting runs first
    run = runs.get(run_id) if run_id else None
    if polling != (bool(active) or bool(run and run.active)):
        st.rerun()  # start or stop polling with a fresh page
    if run:
        st.subheader(progress.label(run))
        rows = runs.epochs(run.id)
        estimate = None if rows else progress.epoch_seconds_estimate(run.run_config(), runs)
        if verdict := progress.verdict(run):
            getattr(st, verdict[0])(verdict[1])
        else:
            asked = run.stop_requested_at is not None
            st.button("Stopping…" if asked else "Stop this run", key=f"stop-{run.id}", on_click=stop, args=(run.id,),
                      disabled=asked)
        done = progress.progress(run, rows, estimate)
        st.progress(done.fraction, text=f"{run.status.capitalize()} · {done.text()}")
        st.plotly_chart(charts.training_curves(pd.DataFrame(rows), *progress.curve_marks(run, rows), title=run.name),
                        key="curves")
    st.subheader("Queue")
    for row in progress.queue_rows(active):
        left, right = st.columns([5, 1])
        left.markdown(f"**#{row['id']} {row['name']}** · {row['user']} · {row['state']} · for {row['for']}")
        right.button("Stopping…" if row["stopping"] else "Stop", key=f"queue-stop-{row['id']}", on_click=stop,
                     args=(row["id"],), disabled=row["stopping"])
    if not active:
        st.caption("Nothing is queued or running.")
