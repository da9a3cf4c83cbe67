"""The sketch page's drawing canvas: the tool, the brush, and a toolbar that is always in view."""
import streamlit as st
from streamlit_drawable_canvas import st_canvas

TOOLS = {"freedraw": ":material/gesture: Free", "line": ":material/horizontal_rule: Line",
         "rect": ":material/crop_square: Rectangle", "circle": ":material/circle: Circle",
         "polygon": ":material/pentagon: Polygon"}
SIDE = 280
# The component shows its toolbar (undo, redo, edit, clear) only while the mouse is over the canvas,
# floating over the canvas's top edge. Its styles live in a shadow root, so page CSS cannot reach them:
# this puts a small stylesheet there that keeps the toolbar visible, in its own row above the canvas.
# It depends on the component's class names (streamlit-drawable-canvas 0.13).
PIN_TOOLBAR = """<script>
const css = `.dc-root{display:flex;flex-direction:column-reverse}
.dc-toolbar,.dc-root:hover>.dc-toolbar{opacity:1;position:static;padding:0 0 .4rem 0;justify-content:flex-start}`;
const pin = () => document.querySelectorAll("[data-testid='stBidiComponentIsolated']").forEach(host => {
  const root = host.shadowRoot;
  if (root && root.querySelector(".dc-toolbar") && !root.querySelector("style[data-pinned-toolbar]")) {
    const style = document.createElement("style");
    style.dataset.pinnedToolbar = "1";
    style.textContent = css;
    root.appendChild(style);
  }
});
pin();
setInterval(pin, 300);
</script>"""


def canvas():
    """The drawing as an RGBA array, or None before the first stroke."""
    tool = st.segmented_control("Tool", list(TOOLS), format_func=TOOLS.get, default="freedraw", required=True)
    brush = st.slider("Brush width", 4, 60, 24, help="Width of free-hand strokes and lines, in canvas pixels.")
    st.html(PIN_TOOLBAR, unsafe_allow_javascript=True)
    # Light ink on black, like the dataset; shapes are filled because garments are silhouettes.
    result = st_canvas(stroke_width=brush, stroke_color="#FFFFFF", fill_color="#FFFFFF", background_color="#000000",
                       drawing_mode=tool, height=SIDE, width=SIDE, update_streamlit=True, return_image_data=True,
                       key="canvas")
    st.caption("Undo, redo, edit (move, resize, delete) and clear are in the toolbar above the canvas; a polygon "
               "is sent when you click its first point again. Tip: the dataset's shoes point left.")
    return result.image_data
