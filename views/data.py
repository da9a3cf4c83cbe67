"""Data: sample images, class balance, each class's mean image, and a 2-D map of the data."""
import numpy as np
import streamlit as st

from fmnist import charts, explore
from fmnist.data import CLASS_NAMES, DatasetError
from views._common import dataset, lab_settings

MAP_SIZES = {"PCA": 5_000, "t-SNE": 2_000}  # t-SNE costs seconds per thousand points; PCA does not


@st.cache_resource(show_spinner=False)
def _arrays(home: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    return explore.source_arrays(dataset(home), source)


def _square_cells(fig, width: int = 900, side: int = 150):
    """Size an image grid so every image is one square of at most `side` px, within `width` px."""
    fx, fy = (np.diff(fig.layout[axis].domain)[0] for axis in ("xaxis", "yaxis"))
    side = min(side, width * fx)
    m = fig.layout.margin
    return fig.update_layout(width=round(side / fx + m.l + m.r), height=round(side / fy + m.t + m.b))


@st.cache_data(show_spinner=False)
def _grid(home: str, source: str, n: int, classes: tuple[int, ...], seed: int):
    x, y = _arrays(home, source)
    idx = explore.sample_indices(y, n * n, classes, seed, ordered=seed == 0)
    title = explore.sample_title(len(idx), source, classes, seed)
    return _square_cells(charts.image_grid(x[idx], [CLASS_NAMES[c] for c in y[idx]], cols=n, title=title))


@st.cache_data(show_spinner=False)
def _balance(home: str):
    return explore.class_counts(dataset(home))


@st.cache_data(show_spinner=False)
def _means(home: str, source: str):
    return _square_cells(charts.mean_images(explore.mean_images(*_arrays(home, source)), CLASS_NAMES,
                                            title=f"Mean image per class: {explore.SOURCES[source]}"))


@st.cache_data(show_spinner="Computing the map once; it is then kept on disk…")
def _map(home: str, source: str, method: str):
    x, y = _arrays(home, source)
    embed = explore.embed_tsne if method == "t-SNE" else explore.embed_pca
    points, labels, idx = embed(x, y, MAP_SIZES[method], seed=0, cache_dir=lab_settings().cache_dir)
    fig = charts.embedding(points, labels, CLASS_NAMES, title=f"{method} of {len(idx):,} images, coloured by class")
    for trace in fig.data:  # hover and click give the image's row in the source, not its place in the sample
        # plain lists: a cached figure keeps numpy customdata only as Plotly's encoded dict
        trace.customdata = idx[np.asarray(trace.customdata)[:, 0].astype(int)].reshape(-1, 1).tolist()
    return fig


def _bump_seed() -> None:
    st.session_state.seed += 1


st.title(":material/grid_view: The data")
home = str(lab_settings().home)
try:
    counts = _balance(home)
except DatasetError as exc:
    st.error(str(exc))
    st.stop()

source = st.selectbox("Images from", list(explore.SOURCES), format_func=explore.SOURCES.get,
                      key="source", bind="query-params")
samples, balance, mapping = st.tabs(["Sample images", "Class balance and means", "2-D map"],
                                    key="tab", bind="query-params")
if samples.open:
    with samples:
        size, pick, seed_box, button = st.columns([2, 4, 2, 1.4], vertical_alignment="bottom")
        n = size.slider("Grid size (n × n)", 2, 10, 5, key="n", bind="query-params")
        chosen = pick.multiselect("Only these classes", CLASS_NAMES, key="classes", bind="query-params",
                                  placeholder="All classes")
        seed = seed_box.number_input("Shuffle seed", 0, 1_000_000, 0, key="seed", bind="query-params",
                                     help="0 shows the images in order; any other seed, a random draw.")
        button.button("Shuffle", icon=":material/shuffle:", on_click=_bump_seed, help="Draw another sample (next seed).")
        st.plotly_chart(_grid(home, source, n, tuple(CLASS_NAMES.index(c) for c in chosen), seed), width="content")
if balance.open:
    with balance:
        st.plotly_chart(charts.class_balance(counts, CLASS_NAMES, title="Images per class in each split"))
        ranges = " · ".join(f"{name} {min(v):,}–{max(v):,}" for name, v in counts.items())
        st.caption(f"Images per class: {ranges}. The classes are balanced, so accuracy is a fair measure "
                   "and always guessing one class scores about 10%.")
        st.plotly_chart(_means(home, source), width="content")
if mapping.open:
    with mapping:
        method = st.segmented_control("Method", list(MAP_SIZES), default="PCA", key="method",
                                      bind="query-params", required=True)
        chart, detail = st.columns([3, 1])
        fig = _map(home, source, method)
        with chart:
            event = st.plotly_chart(fig, on_select="rerun", selection_mode="points", key=f"map-{source}-{method}")
        with detail:
            points = event.selection.points
            if points:
                x, y = _arrays(home, source)
                row = int(fig.data[points[0]["curve_number"]].customdata[points[0]["point_index"]][0])
                st.image(explore.enlarge(x[row], 10), caption=f"#{row} · {CLASS_NAMES[y[row]]}")
            else:
                st.info("Click a point to see its image here.")
        st.caption("Each dot is one image; nearby dots look alike to the method. Click a class in the "
                   "legend to hide it.")
