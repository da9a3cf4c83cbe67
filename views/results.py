"""Results: every run in one table, curves overlaid, downloads, edits, and the final model on the test set."""
import streamlit as st

from fmnist import charts, evaluate, labels, summary
from fmnist.store import STATUSES
from views._classroom import classroom_config
from views._common import store
from views._results_edit import edit_runs
from views._results_test import final_model
from views._seed_groups import seed_groups
from views._tables import columns


def _reveal_all() -> None:
    revealed = evaluate.reveal_all(store())
    st.session_state["reveal_msg"] = (f"Revealed the test accuracy of {len(revealed)} run(s); one look at the test "
                                      "set was counted for each." if revealed else "Every test accuracy was open.")


def runs_table(db) -> None:
    cols = st.columns([2, 2, 2, 2, 1])
    statuses = cols[0].multiselect("Status", STATUSES, key="status", bind="query-params")
    name = cols[1].text_input("Model name contains", key="name", max_chars=80, bind="query-params")
    presets = cols[2].multiselect("Preset", db.presets_used(), key="preset", bind="query-params")
    users = cols[3].multiselect("User", db.users(), key="user", bind="query-params")
    filters = summary.Filters(tuple(statuses), name, tuple(presets), tuple(users))
    total = db.count_matching(**filters.query())
    pages = summary.page_count(total)
    if st.session_state.get("page", 1) > pages:  # the filters left fewer pages than the one shown
        st.session_state["page"] = pages
    page = cols[4].number_input(f"Page (of {pages})", 1, pages, key="page", bind="query-params") if pages > 1 else 1
    frame = summary.table_page(db, filters, page)
    left, right = st.columns(2)
    notebook = left.toggle("Show the notebook's reported figures as reference rows", key="notebook")
    every = right.toggle("Show every column (hyperparameters, errors)", key="all_columns")
    shown = summary.with_notebook(frame) if notebook else frame
    st.caption(summary.table_caption(total, db.best_val()))
    visible = shown if every else shown[summary.MAIN_COLUMNS]  # styled cell by cell: only what is shown
    st.dataframe(summary.styled(visible), hide_index=True, key="table", column_config=columns(visible))
    buttons = st.columns([3, 3, 4])
    buttons[0].download_button("Download this table as CSV", summary.to_csv(shown), "fmnist-runs.csv", "text/csv",
                               icon=":material/download:")
    if not classroom_config().on:  # in a class, the instructor reveals test scores at the end of the round
        buttons[1].button("Reveal every test score", on_click=_reveal_all, icon=":material/lock_open:",
                          help="The notebook's full table: opens every locked test accuracy, counting one look "
                               "at the test set for each run it reveals.")
    if msg := st.session_state.pop("reveal_msg", None):
        st.success(msg)
    edit_runs(db, frame)


def compare(db, ended) -> None:
    names = {r.id: labels.short(r) for r in ended}
    picked = st.multiselect("Runs to overlay (finished or stopped, best validation accuracy first)", list(names),
                            default=list(names)[:3], format_func=names.get, key="overlay")
    curves = summary.curves(db, [r for r in ended if r.id in picked])
    left, right = st.columns(2)
    left.plotly_chart(charts.overlay_curves(curves, "val_accuracy"))
    right.plotly_chart(charts.overlay_curves(curves, "val_loss"))
    axis = st.radio("Validation accuracy against", ["params", "seconds"], horizontal=True, key="scatter_x")
    st.plotly_chart(charts.scatter_runs(summary.scatter_frame(ended, axis), x=axis))


st.title("Results")
db = store()
runs_tab, compare_tab, test_tab = st.tabs(["Runs", "Compare", "Final model on the test set"], key="tab",
                                          bind="query-params")  # only the open tab runs; a link names the tab
if runs_tab.open:
    with runs_tab:
        runs_table(db)
        seed_groups(db)  # runs repeated with other seeds: mean, spread and a band
if compare_tab.open:
    with compare_tab:
        compare(db, db.runs(statuses=("finished", "stopped"), limit=200, order="val_acc DESC"))
if test_tab.open:
    with test_tab:
        final_model(db)
