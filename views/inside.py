"""Inside a network: first-layer filters or weights; a chosen image's feature maps and Grad-CAM."""
import streamlit as st

from fmnist import charts, inside, labels, predict
from fmnist.artifacts import ArtifactError
from fmnist.config import BUILT_KINDS
from fmnist.data import CLASS_NAMES, NUM_CLASSES, DatasetError
from views._common import dataset, lab_settings, store

st.title(":material/neurology: Inside a network")
st.caption("What a trained network has learned, and what it does with one image, layer by layer.")

runs = {r.id: r for r in predict.finished_runs(store()) if r.kind in BUILT_KINDS}
if not runs:
    st.info("Train an MLP or CNN first: this page looks inside a finished neural-network run.")
    st.page_link("views/train.py", label="Go to Train", icon=":material/model_training:")
    st.stop()
run_id = st.selectbox("Model", list(runs), format_func=lambda i: labels.model_choice(runs[i]), key="inside_run",
                      help="Every finished MLP and CNN run; the best validation accuracy comes first.")
try:
    model = predict.load_model(store(), run_id, lab_settings().models_dir)
    weights = inside.first_layer(model)
except (ArtifactError, predict.PredictError, inside.InsideError) as exc:
    st.error(str(exc))
    st.stop()

grid = charts.picture_grid(weights.pictures, "First layer: filters" if weights.kind == "cnn" else
                           "First layer: each unit's weights", unit="filter" if weights.kind == "cnn" else "unit",
                           diverging=True)
if weights.kind == "mlp":
    st.plotly_chart(grid, width="stretch")
    st.caption(inside.about_first_layer(weights))
    st.info("Feature maps and Grad-CAM need convolutions: choose a CNN run to see them.")
    st.stop()

pick, seen, cam_col = st.columns([4, 3, 5], gap="large")
drawing = st.session_state.get(inside.SKETCH_KEY)
sources = ["A test image"] + (["My drawing"] if drawing is not None else [])
source = pick.radio("Image", sources, key="inside_source", horizontal=True,
                    help="A drawing appears here after you draw one on the Sketch page.")
truth = None
if source == "My drawing":
    image, caption = drawing, "Your drawing from the Sketch page"
else:
    label = pick.selectbox("Class", [None, *range(NUM_CLASSES)], key="inside_class",
                           format_func=lambda c: "Any class" if c is None else CLASS_NAMES[c])
    index = pick.number_input("Test image number" if label is None else f"Which {CLASS_NAMES[label]} (0 = the first)",
                              0, 9999, 0, key="inside_index")
    try:
        image, truth, row = inside.test_image(dataset(), int(index), label)
    except (ValueError, DatasetError) as exc:
        pick.error(str(exc))
        st.stop()
    caption = f"Test image {row}: {CLASS_NAMES[truth]}"
seen.image(predict.thumbnail(image, 196), caption=caption)

look = inside.look(model, image)
guess = f"The model says **{CLASS_NAMES[look.label]}**, {look.probs[look.label]:.0%}"
if truth is not None:
    guess += " :green[:material/check_circle:]" if look.label == truth else " :red[:material/cancel:]"
seen.markdown(guess)
cam_col.plotly_chart(charts.gradcam_overlay(image, look.cam, title="Grad-CAM: where it looks"), width="stretch")
cam_col.caption(inside.about_cam(look, CLASS_NAMES))

st.subheader("What the first layer looks for")
st.plotly_chart(grid, width="stretch")
st.caption(inside.about_first_layer(weights))

st.subheader("Feature maps at every convolution")
for layer in look.layers:
    n, h, w = layer.maps.shape
    st.plotly_chart(charts.picture_grid(layer.maps, f"Convolution {layer.index}: {n} maps of {h}×{w}",
                                        unit="map", cols=min(n, 8 if n <= 32 else 16)), width="stretch")
    st.caption(inside.about_layer(layer, len(look.layers)))
