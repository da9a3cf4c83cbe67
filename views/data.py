"""Data: sample images, class balance, each class's mean image, and a 2-D map of the data."""
import numpy as np
import streamlit as st

from fmnist import charts, data, data_figures, explore
from fmnist.charts.frozen import freeze
from fmnist.data import CLASS_NAMES, DatasetError
from views._common import dataset, lab_settings

FIRST_BUILD = ("Preparing Fashion-MNIST for its first use: reading, checking and splitting the four files as the "
               "notebook did. This happens once (about 10 s).")


@st.cache_resource(show_spinner=False)
def _arrays(home: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    return explore.source_arrays(dataset(), source)


@st.cache_resource(show_spinner=False, max_entries=256)
def _figure(builder: str, home: str, source: str, *args):
    """data_figures.<builder>(x, y, *args) of the source's images, once per server, converted for sending
    once (fmnist.charts.frozen). One shared object, read only: st.cache_data would unpickle a copy for every
    page open, 67 ms for the 5x5 grid."""
    return freeze(getattr(data_figures, builder)(*_arrays(home, source), *args))


@st.cache_resource(show_spinner=False)
def _balance(home: str):
    return explore.class_counts(dataset())


def _bump_seed() -> None:
    st.session_state.seed += 1


def _show_map(source: str, method: str):
    """The map in one slot: while a new one is computed, the spinner takes the old map's place (on screen)."""
    slot, cache, spec = st.empty(), lab_settings().cache_dir, data_figures.MAPS[method]
    if not data_figures.map_ready(*_arrays(home, source), method, cache):
        with slot, st.spinner(f"Computing the {method} map of {spec.size:,} images, once ({spec.wait}); "
                              "it is then kept on disk…", show_time=True):
            _figure("map_figure", home, source, method, cache)
    fig = _figure("map_figure", home, source, method, cache)
    return fig, slot.plotly_chart(fig, on_select="rerun", selection_mode="points", key=f"map-{source}-{method}")


st.title(":material/grid_view: The data")
home = str(lab_settings().home)
try:
    first = not data.cache_path(lab_settings()).exists()
    with st.spinner(FIRST_BUILD if first else "Loading Fashion-MNIST…", show_time=first):
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
        button.button("Shuffle", icon=":material/shuffle:", on_click=_bump_seed,
                      help="Draw another sample (next seed).")
        st.plotly_chart(_figure("grid_figure", home, source, source, n,
                                tuple(CLASS_NAMES.index(c) for c in chosen), seed), width="content")
if balance.open:
    with balance:
        st.plotly_chart(charts.class_balance(counts, CLASS_NAMES, title="Images per class in each split"))
        st.caption(data_figures.balance_caption(counts))
        st.plotly_chart(_figure("means_figure", home, source, source), width="content")
if mapping.open:
    with mapping:
        method = st.segmented_control("Method", list(data_figures.MAPS), default="PCA", key="method",
                                      bind="query-params", required=True)
        chart, detail = st.columns([3, 1])
        with chart:
            fig, event = _show_map(source, method)
        with detail:
            if points := event.selection.points:
                x, y = _arrays(home, source)
                row = data_figures.clicked_row(fig, points[0])
                st.image(explore.enlarge(x[row], 10), caption=f"#{row} · {CLASS_NAMES[y[row]]}")
            else:
                st.info("Click a point to see its image here.")
        st.caption("Each dot is one image; nearby dots look alike to the method. Click a class in the "
                   "legend to hide it.")
