"""Instructor (classroom mode only): the round's leaderboard, every student's runs, stop any run, the queue, caps."""
import streamlit as st

from fmnist import classroom, jobs, summary
from fmnist.store import ACTIVE, StoreError
from views._classroom import classroom_config
from views._common import lab_settings, store
from views._tables import columns


def _login(encoded: str) -> None:
    ok = classroom.check_password(st.session_state.pop("instructor_password", ""), encoded)
    st.session_state["instructor"] = ok
    st.session_state["note"] = None if ok else ("error", "That is not the instructor password.")


def _do(action, *args) -> None:
    """Run one instructor action in a callback and keep its one-line outcome for the next run."""
    try:
        st.session_state["note"] = ("success", action(*args))
    except (classroom.ClassroomError, StoreError) as exc:
        st.session_state["note"] = ("error", str(exc))


def _reveal() -> str:
    classroom.reveal_round(store(), lab_settings())
    return "Test accuracy revealed; one look at the test set was counted for each best run shown."


def _new_round() -> str:
    classroom.start_round(lab_settings())
    return "A new round began: the leaderboard counts runs started from now."


def _stop(run_id: int) -> str:
    status = jobs.stop(run_id, store(), lab_settings())
    return f"Run #{run_id} was asked to stop; it ends within seconds." if status == "running" else \
        f"Run #{run_id} is {status}."


def _clear() -> str:
    return f"The queue was cleared: {store().clear_queue()} waiting run(s) stopped."


def _cap(own: bool) -> str:
    """Read from the widgets at click time, so a value typed just before the click counts."""
    user, cap = st.session_state.get("cap_user") or "", st.session_state["cap_value"] if own else None
    classroom.set_cap(store(), user, cap)
    return f"{user} may have {cap} active run(s)." if cap is not None else f"{user} is back to the default cap."


def leaderboard(db, settings) -> None:
    rnd = classroom.current_round(settings)
    board = classroom.leaderboard(db, rnd)
    st.caption("Each student's best finished run of the round, by validation accuracy. Test accuracy stays locked "
               "until you reveal it at the end of the round" + (": revealed." if rnd.revealed_at else "."))
    st.dataframe(summary.styled(board), hide_index=True, key="board", column_config=columns(board))
    left, right = st.columns(2)
    left.button("Reveal test accuracy (end of round)", type="primary", disabled=bool(rnd.revealed_at) or board.empty,
                on_click=_do, args=(_reveal,), help="Counts one look at the test set for each best run shown.")
    right.button("Start a new round", on_click=_do, args=(_new_round,))


def runs_panel(db, settings) -> None:
    users = st.multiselect("Students", db.users(), key="students", placeholder="every student")
    frame = summary.table_page(db, summary.Filters(users=tuple(users)), size=200)
    st.dataframe(summary.styled(frame), hide_index=True, column_order=summary.MAIN_COLUMNS, key="all_runs",
                 column_config=columns(frame))
    active = db.runs(statuses=ACTIVE, order="queue")
    st.subheader(f"In progress ({len(active)})")
    for run in active:
        cols = st.columns([5, 1])
        cols[0].markdown(f"**#{run.id} {run.name}** · {run.user or classroom.NO_NAME} · {run.status}")
        cols[1].button("Stop", key=f"stop_{run.id}", on_click=_do, args=(_stop, run.id))
    waiting = sum(r.status == "queued" for r in active)
    st.button(f"Clear the queue ({waiting} waiting)", disabled=not waiting, on_click=_do, args=(_clear,))


def caps_panel(db, settings) -> None:
    frame = classroom.caps_frame(db, settings)
    st.caption(f"Active runs a student may have at once; the server's default is {settings.active_per_user}.")
    st.dataframe(frame, hide_index=True, key="caps")
    left, mid, right = st.columns([2, 1, 2])
    who = left.selectbox("Student", frame["Student"].tolist(), key="cap_user")
    mid.number_input("Cap", 0, classroom.MAX_CAP, settings.active_per_user, key="cap_value")
    right.button("Set this cap", disabled=who is None, on_click=_do, args=(_cap, True))
    right.button("Back to the default", disabled=who is None, on_click=_do, args=(_cap, False))


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
    board_tab, runs_tab, caps_tab = st.tabs(["Leaderboard", "Every run", "Caps"], key="instructor_tab",
                                            bind="query-params")
    for tab, panel in ((board_tab, leaderboard), (runs_tab, runs_panel), (caps_tab, caps_panel)):
        if tab.open:
            with tab:
                panel(db, settings)
