"""The results page's last tab: choose the final model on validation, then open its test evaluation (counted)."""
import numpy as np
import streamlit as st

from fmnist import charts, evaluate, labels, summary
from fmnist.artifacts import ArtifactError
from fmnist.data import CLASS_NAMES, DatasetError
from fmnist.store import Store
from views._common import dataset, lab_settings, store

ANY = "any"
GALLERY = 24  # images shown at once: four rows of six stay readable on a projector
URL_KEY = "model"  # ?model=ID: the final model chosen, kept in the link


def _evaluate(run_id: int) -> None:
    """A callback, so everything drawn after it (the count of looks) already includes this one."""
    settings = lab_settings()
    try:
        with st.spinner("Predicting the 10,000 test images…"):
            evaluate.evaluate(store(), settings, run_id, split=dataset())
        st.session_state.setdefault("looked", set()).add(run_id)
    except (ArtifactError, evaluate.EvaluationError, DatasetError) as exc:
        st.session_state["eval_error"] = str(exc)


def _cell_clicked() -> None:
    points = st.session_state["cm"].selection.points
    if points:  # a cell's marker: y is its true class, x its predicted class
        st.session_state["cm_true"], st.session_state["cm_pred"] = points[0]["y"], points[0]["x"]


def final_model(db: Store) -> None:
    st.info(evaluate.WHY_LAST)
    finished = db.runs(statuses=("finished",), limit=200, order="val_acc DESC")
    if not finished:
        st.warning("No finished run yet: train one on the Train page, then choose it here.")
        return
    by_id = {r.id: r for r in finished}
    linked = st.query_params.get(URL_KEY, "")
    if "final" not in st.session_state and linked.isdigit() and int(linked) in by_id:
        st.session_state["final"] = int(linked)
    elif st.session_state.get("final") not in (None, *by_id):  # deleted since: back to the best
        del st.session_state["final"]
    run_id = st.selectbox("Final model, chosen on validation accuracy (best first)", list(by_id), key="final",
                          format_func=lambda i: labels.final_choice(by_id[i]))
    if st.query_params.get(URL_KEY) != str(run_id):  # the choice, even the default one, goes into the link
        st.query_params[URL_KEY] = str(run_id)
    st.button(f"Evaluate run #{run_id} on the test set", type="primary", on_click=_evaluate, args=(run_id,))
    if error := st.session_state.pop("eval_error", None):
        st.error(error)
    run = db.get(run_id)
    st.caption(summary.test_looks(run))
    if run_id in st.session_state.get("looked", set()) and (report := db.evaluation(run_id)):
        test_report(report)


def test_report(report: dict) -> None:
    for col, (label, value, delta) in zip(st.columns(4), evaluate.headline(report)):
        col.metric(label, value, delta)
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
        images = dataset().x_test[idx[:GALLERY]]
        st.plotly_chart(charts.image_grid(images, evaluate.titles(t[:GALLERY], p[:GALLERY], conf[:GALLERY]), cols=6,
                                          title=evaluate.cell_title(*cell)), key="gallery")
