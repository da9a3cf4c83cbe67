"""What a test that served the app leaves behind: workers that lead their own sessions and outlive it."""
from __future__ import annotations

from fmnist import settings, store as store_mod


def end_active_runs(home) -> None:
    """Kill the workers of a workspace's active runs (a served app's, whose workers outlive the server)."""
    from fmnist.executors.local import LocalExecutor
    ws = settings.Settings(home=home, data_dir=None)
    if not ws.db_path.exists():
        return
    st = store_mod.Store(ws.db_path)
    try:
        for run in st.runs(statuses=("queued", "running")):
            if run.handle and run.executor in (None, "local"):
                LocalExecutor(ws).cancel(run.handle)
            st.mark_stopped(run.id, "the test that started it ended")
    finally:
        st.close()
