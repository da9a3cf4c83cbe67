"""Results: every run in one table, curves overlaid, downloads, edits, and the final model on the test set."""
import functools
import math

import numpy as np
import streamlit as st

from fmnist import charts, evaluate, summary
from fmnist.artifacts import ArtifactError
from fmnist.data import CLASS_NAMES, DatasetError
from fmnist.store import STATUSES, StoreError
from views._common import dataset, lab_settings, store

ANY = "any"
GALLERY = 24  # images shown at once: four rows of six stay readable on a projector


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


def _cell_clicked() -> None:
    points = st.session_state["cm"].selection.points
    if points:  # a cell's marker: y is its true class, x its predicted class
        st.session_state["cm_true"], st.session_state["cm_pred"] = points[0]["y"], points[0]["x"]


st.title("Results")
db, settings = store(), lab_settings()
runs_tab, compare_tab, test_tab = st.tabs(["Runs", "Compare", "Final model on the test set"])

with runs_tab:
    cols = st.columns([2, 2, 2, 1])
    statuses = cols[0].multiselect("Status", STATUSES, key="status", bind="query-params")
    name = cols[1].text_input("Model name contains", key="name", max_chars=80, bind="query-params")
    presets = cols[2].multiselect("Preset", db.presets_used(), key="preset", bind="query-params")
    filters = summary.Filters(tuple(statuses), name, tuple(presets))
    total = db.count_matching(**filters.query())
    pages = max(1, math.ceil(total / summary.PAGE_SIZE))
    if st.session_state.get("page", 1) > pages:  # the filters left fewer pages than the one shown
        st.session_state["page"] = pages
    page = cols[3].number_input(f"Page (of {pages})", 1, pages, key="page", bind="query-params") if pages > 1 else 1
    frame = summary.table_page(db, filters, page)
    shown = summary.with_notebook(frame) if st.toggle("Show the notebook's reported figures as reference rows") else frame
    best = db.best_val()
    st.caption(f"{total} runs match, newest first. **{summary.BEST_MARK}** marks the finished run with the highest "
               f"validation accuracy" + (f" (#{best.id} {best.name}, {best.val_acc:.2%})" if best else "") + ". "
               "**Gap** = train − validation accuracy: above 5 points (red) the model fits its training images "
               "much better than new ones, a sign of overfitting.")
    st.dataframe(summary.styled(shown), hide_index=True, key="table",
                 column_config={"Model": st.column_config.TextColumn(width="medium")})
    st.download_button("Download this table as CSV", summary.to_csv(shown), "fmnist-runs.csv", "text/csv",
                       icon=":material/download:")

    st.subheader("Rename, delete or download a run")
    if frame.empty:
        st.info("No runs match. Start one on the Train page, or clear the filters.")
    else:
        names = dict(zip(frame["Run"].tolist(), frame["Model"]))
        run = db.get(st.selectbox("Run", list(names), key="edit_run", format_func=lambda i: f"#{i} {names[i]}"))
        left, right = st.columns(2)
        left.text_input("New name", value=run.name, key=f"new_name_{run.id}", max_chars=80)  # one field a run
        left.button("Rename", on_click=_rename, args=(run.id,))
        right.checkbox(f"Yes, delete run #{run.id} and its model file", key="confirm_delete")
        right.button("Delete", on_click=_delete, args=(run.id,), disabled=not st.session_state.get("confirm_delete"))
        kind, text = st.session_state.pop("edit_msg", (None, None))
        if kind:
            getattr(st, kind)(text)
        if run.model_path:
            try:
                summary.check_model(run)
                st.download_button(f"Download the model of run #{run.id}", functools.partial(summary.model_bytes, run),
                                   summary.model_filename(run), "application/octet-stream", icon=":material/download:")
            except ArtifactError as exc:
                st.error(str(exc))

ended = db.runs(statuses=("finished", "stopped"), limit=200, order="val_acc DESC")
with compare_tab:
    labels = {r.id: summary.run_label(r) for r in ended}
    picked = st.multiselect("Runs to overlay (finished or stopped, best validation accuracy first)", list(labels),
                            default=list(labels)[:3], format_func=labels.get, key="overlay")
    chosen_runs = [r for r in ended if r.id in picked]
    left, right = st.columns(2)
    curves = summary.curves(db, chosen_runs)
    left.plotly_chart(charts.overlay_curves(curves, "val_accuracy"))
    right.plotly_chart(charts.overlay_curves(curves, "val_loss"))
    axis = st.radio("Validation accuracy against", ["params", "seconds"], horizontal=True, key="scatter_x")
    st.plotly_chart(charts.scatter_runs(summary.scatter_frame(ended, axis), x=axis))

with test_tab:
    st.info(evaluate.WHY_LAST)
    finished = [r for r in ended if r.status == "finished"]
    if not finished:
        st.warning("No finished run yet: train one on the Train page, then choose it here.")
        st.stop()
    by_id = {r.id: r for r in finished}
    run = by_id[st.selectbox("Final model, chosen on validation accuracy (best first)", list(by_id), key="final",
                             format_func=lambda i: f"{summary.run_label(by_id[i])} · val {by_id[i].val_acc:.2%} · "
                                                   f"evaluated on test {by_id[i].test_views}×")]
    if st.button(f"Evaluate run #{run.id} on the test set", type="primary"):
        try:
            with st.spinner("Predicting the 10,000 test images…"):
                evaluate.evaluate(db, settings, run.id, split=dataset(str(settings.home)))
            st.session_state.setdefault("looked", set()).add(run.id)
            st.rerun()  # so the chooser above shows the new count of test evaluations
        except (ArtifactError, evaluate.EvaluationError, DatasetError) as exc:
            st.error(str(exc))
    report = db.evaluation(run.id) if run.id in st.session_state.get("looked", set()) else None
    if report is None:
        st.stop()
    st.caption(f"Run #{run.id} has been evaluated on the test set {db.get(run.id).test_views} time(s).")
    m = st.columns(4)
    m[0].metric("Test accuracy", f"{report['test_accuracy']:.2%}",
                f"{(report['test_accuracy'] - report['val_accuracy']) * 100:+.2f} points vs validation")
    m[1].metric("Test error", f"{report['test_error']:.2%}")
    m[2].metric("Validation accuracy", f"{report['val_accuracy']:.2%}")
    m[3].metric("Validation error", f"{report['val_error']:.2%}")
    normalize = st.toggle("Row percentages", key="cm_norm")
    st.plotly_chart(charts.confusion_matrix(np.array(report["confusion"]), CLASS_NAMES, normalize, clickable=True),
                    key="cm", on_select=_cell_clicked, selection_mode="points")
    left, right = st.columns([3, 2])
    left.dataframe(evaluate.per_class_frame(report).style.format("{:.1%}", subset=["Precision", "Recall", "F1"]),
                   hide_index=True)
    right.markdown("**Which images?** Click a cell of the matrix, or pick the classes here.")
    true = right.selectbox("True class", [ANY, *CLASS_NAMES], key="cm_true")
    pred = right.selectbox("Predicted class", [ANY, *CLASS_NAMES], key="cm_pred")
    cell = [None if c == ANY else CLASS_NAMES.index(c) for c in (true, pred)]
    idx, t, p, conf = evaluate.examples(report, *cell)
    right.caption(f"{len(idx)} test images" + (f", the {GALLERY} most confident shown" if len(idx) > GALLERY else ""))
    if len(idx):
        st.plotly_chart(charts.image_grid(dataset(str(settings.home)).x_test[idx[:GALLERY]],
                                          evaluate.titles(t[:GALLERY], p[:GALLERY], conf[:GALLERY]), cols=6,
                                          title=evaluate.cell_title(*cell)), key="gallery")
