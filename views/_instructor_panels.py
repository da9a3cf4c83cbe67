"""The instructor page's three tabs: the round's leaderboard, every run (stop any, clear the queue), the caps."""
from __future__ import annotations

import streamlit as st

from fmnist import classroom, instructor, summary
from fmnist.store import ACTIVE, StoreError
from views._common import lab_settings, store
from views._tables import columns


def _do(action, *args) -> None:
    """Run one instructor action in a callback and keep its one-line outcome for the next run."""
    try:
        st.session_state["note"] = ("success", action(store(), lab_settings(), *args))
    except (classroom.ClassroomError, StoreError) as exc:
        st.session_state["note"] = ("error", str(exc))


def _cap(db, settings, own: bool) -> str:
    """Read from the widgets at click time, so a value typed just before the click counts."""
    user, cap = st.session_state.get("cap_user") or "", st.session_state["cap_value"] if own else None
    return instructor.set_cap(db, settings, user, cap)


def leaderboard(db, settings) -> None:
    rnd = classroom.current_round(db)
    board = classroom.leaderboard(db, rnd)
    st.caption("Each student's best finished run of the round, by validation accuracy. Test accuracy stays locked "
               "until you reveal it at the end of the round" + (": revealed." if rnd.revealed_at else "."))
    st.dataframe(summary.styled(board), hide_index=True, key="board", column_config=columns(board))
    left, right = st.columns(2)
    left.button("Reveal test accuracy (end of round)", type="primary", disabled=bool(rnd.revealed_at) or board.empty,
                on_click=_do, args=(instructor.reveal,),
                help="Counts one look at the test set for each best run shown.")
    right.button("Start a new round", on_click=_do, args=(instructor.new_round,))


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
        cols[1].button("Stop", key=f"stop_{run.id}", on_click=_do, args=(instructor.stop_run, run.id))
    waiting = sum(r.status == "queued" for r in active)
    st.button(f"Clear the queue ({waiting} waiting)", disabled=not waiting, on_click=_do,
              args=(instructor.clear_queue,))


def caps_panel(db, settings) -> None:
    frame = classroom.caps_frame(db, settings)
    st.caption(f"Active runs a student may have at once; the server's default is {settings.active_per_user}.")
    st.dataframe(frame, hide_index=True, key="caps")
    left, mid, right = st.columns([2, 1, 2])
    who = left.selectbox("Student", frame["Student"].tolist(), key="cap_user")
    mid.number_input("Cap", 0, classroom.MAX_CAP, settings.active_per_user, key="cap_value")
    right.button("Set this cap", disabled=who is None, on_click=_do, args=(_cap, True))
    right.button("Back to the default", disabled=who is None, on_click=_do, args=(_cap, False))


PANELS = {"Leaderboard": leaderboard, "Every run": runs_panel, "Caps": caps_panel}
