"""The protocol load driver sends back each widget's value as a browser keeps it (views/_load_wire.widget_state):
checked against AppTest, Streamlit's own stand-in for the frontend, on widgets drawn with and without values."""
from __future__ import annotations

import pytest
from streamlit.proto.Element_pb2 import Element
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.testing.v1 import AppTest

from views._load_wire import FULL, Wire, widget_state

SCRIPT = """
import streamlit as st
st.text_input("name", "Ada", key="name")
st.text_input("empty", key="empty")
st.text_input("none", value=None, key="none")
st.text_area("notes", "two\\nlines", key="notes")
st.number_input("seeds", 1, 10, 3, key="seeds")
st.number_input("lr", 0.0, 1.0, 0.25, key="lr")
st.selectbox("model", ["a", "b", "c"], index=2, format_func=str.upper, key="model")
st.selectbox("pick", ["a", "b"], index=None, key="pick")
st.radio("axis", ["params", "seconds"], horizontal=True, key="axis")
st.multiselect("status", ["queued", "running", "done"], default=["running", "done"], key="status")
st.slider("n", 2, 10, 5, key="n")
st.slider("range", 0.0, 1.0, (0.2, 0.8), key="range")
st.checkbox("bn", True, key="bn")
st.toggle("pct", key="pct")
st.segmented_control("method", ["PCA", "t-SNE"], default="PCA", key="method")
st.session_state.setdefault("set_later", "typed")
st.text_input("set later", key="set_later")
st.button("go", key="go")
"""
KINDS = {"TextInput": "text_input", "TextArea": "text_area", "NumberInput": "number_input", "Selectbox": "selectbox",
         "Radio": "radio", "MultiSelect": "multiselect", "Slider": "slider", "Checkbox": "checkbox",
         "ButtonGroup": "button_group", "Button": "button"}


@pytest.fixture(scope="module")
def app():
    at = AppTest.from_string(SCRIPT).run()
    assert not at.exception
    return at


def _widgets(at) -> list:
    kinds = ["text_input", "text_area", "number_input", "selectbox", "radio", "multiselect", "slider", "checkbox",
             "toggle", "button_group"]
    return [w for kind in kinds for w in getattr(at, kind)]


def _element(proto) -> Element:
    element = Element()
    getattr(element, KINDS[type(proto).__name__]).CopyFrom(proto)
    return element


def _value(state):
    """The value a widget state carries, whichever field carries it (Chromium sends an int number input's value
    as int_value, AppTest as double_value: both read back the same)."""
    field = state.WhichOneof("value")
    value = getattr(state, field) if field else None
    return list(value.data) if hasattr(value, "data") else value


def test_each_widget_sends_the_value_the_frontend_would(app):
    widgets = _widgets(app)
    assert len(widgets) == 16
    for w in widgets:
        ours, frontend = widget_state(_element(w.proto)), w._widget_state
        assert (ours.id, _value(ours)) == (frontend.id, _value(frontend)), w.key
    assert widget_state(_element(app.number_input(key="seeds").proto)).int_value == 3  # as Chromium sends it


def test_buttons_send_nothing_until_clicked(app):
    assert widget_state(_element(app.button[0].proto)) is None


def _drawn(wire: Wire, widgets, script_hash: str) -> None:
    for w in widgets:
        msg = ForwardMsg()
        msg.delta.new_element.CopyFrom(_element(w.proto))
        msg.metadata.active_script_hash = script_hash
        wire.received(msg.SerializeToString())


def test_a_page_change_keeps_only_the_main_scripts_widgets_and_a_full_run_drops_what_it_did_not_draw(app):
    wire = Wire(0)
    new = ForwardMsg()
    new.new_session.main_script_hash = "app"
    wire.received(new.SerializeToString())
    sidebar, page = _widgets(app)[:1], _widgets(app)[1:4]
    _drawn(wire, sidebar, "app")
    _drawn(wire, page, "train")
    assert [s.id for s in wire.widget_states()] == [w.id for w in sidebar + page]
    assert [s.id for s in wire.widget_states(keep_page=False)] == [sidebar[0].id]
    wire.drawn = {sidebar[0].id}  # the next full run drew the sidebar only
    wire.received(ForwardMsg(script_finished=FULL).SerializeToString())
    assert [s.id for s in wire.widget_states()] == [sidebar[0].id]
