"""Sketch: draw, upload or pick a garment; see what the model sees, what it predicts, and why."""
import streamlit as st

from fmnist import charts, inside, labels, neighbours, predict, saliency
from fmnist.artifacts import ArtifactError
from fmnist.data import CLASS_NAMES, DatasetError
from fmnist.images import UPLOAD_TYPES, ImageError, from_canvas, from_upload
from views._canvas import canvas
from views._common import lab_settings, store

st.title(":material/draw: Sketch a garment")
st.caption("Draw a garment, upload a picture or pick a test image: a trained model says what it sees, and why.")

runs = {r.id: r for r in predict.finished_runs(store())}
if not runs:
    st.info("Train a model first: predictions come from a finished run.")
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
run_id = st.selectbox("Model", list(runs), format_func=lambda i: labels.model_choice(runs[i]), key="run",
                      bind="query-params", help="Every finished run; the best validation accuracy comes first.")

left, right = st.columns([5, 6], gap="large")
draw, upload, pick = left.tabs(["Draw", "Upload", "Pick a test image"], key="source", on_change="rerun",
                               bind="query-params")
steps = image = truth = None
if draw.open:
    with draw:
        drawing = canvas()
    steps, waiting = (None if drawing is None else from_canvas(drawing)), predict.WAITING["draw"]
elif upload.open:
    with upload:
        file = st.file_uploader("A picture of one garment", type=UPLOAD_TYPES,
                                help="A photo or a scan on any plain backdrop: the item is cut out for the model.")
        try:
            steps = from_upload(file.getvalue()) if file is not None else None
        except ImageError as exc:
            st.error(str(exc))
            st.stop()
    waiting = predict.WAITING["blank" if file else "upload"]
else:
    with pick:
        index = st.number_input("Test image number", 0, 9999, 0, key="test_index", bind="query-params")
        try:
            image, truth = predict.pick_test_image(lab_settings(), int(index))
        except DatasetError as exc:
            st.error(str(exc))
            st.stop()
        st.image(predict.thumbnail(image, 224), caption=f"True label: {CLASS_NAMES[truth]}")
image = steps.final if steps is not None and not steps.blank else image
if steps is not None and not steps.blank:
    st.session_state[inside.SKETCH_KEY] = steps.final  # the Inside page can look at this drawing
if image is None:
    right.info(waiting)
    st.stop()
try:
    model = predict.load_model(store(), run_id, lab_settings().models_dir)
except (ArtifactError, predict.PredictError) as exc:
    right.error(str(exc))
    st.stop()
probs = predict.predict(model, image)
best = predict.top_k(probs, 1)[0]
with right:
    st.markdown(f"# {best.name}, {best.prob:.0%}")
    if truth is not None:
        mark = ":green[:material/check_circle:]" if best.label == truth else ":red[:material/cancel:]"
        st.markdown(f"{mark} True label: **{CLASS_NAMES[truth]}**")
    for warning in getattr(steps, "warnings", ()):
        st.warning(warning, icon=":material/warning:")
    st.plotly_chart(charts.probabilities(probs, CLASS_NAMES), width="stretch")
if steps is not None:
    st.subheader("What the model sees")
    for col, (caption, thumb) in zip(st.columns(5), predict.steps_row(steps)):
        col.image(thumb, caption=caption)

why, similar = st.columns(2, gap="large")
if (sal := saliency.saliency(model, image)) is None:
    why.info("Saliency needs a neural network: choose an MLP or CNN run to see which pixels mattered.")
else:
    why.plotly_chart(charts.saliency_overlay(image, sal, title=f"Pixels that sway '{best.name}' most"), width="stretch")
    why.caption(saliency.EXPLANATION.format(name=best.name))
try:
    with similar, st.spinner("Searching the 42,000 training images..."):
        near = neighbours.nearest_training_images(lab_settings(), image)
    similar.plotly_chart(charts.image_grid(near.images, near.titles, cols=3, title="Nearest training images"),
                         width="stretch")
    similar.caption(near.caption)
except DatasetError as exc:
    similar.warning(f"Nearest training images are unavailable: {exc}")
