"""A figure made ready to send once, for figures that many sessions show.

st.plotly_chart asks a figure for ``to_dict()``, which deep-copies every property and then walks the copy
to turn numpy arrays into base64 (5 ms for the training curves, more for an image grid). A figure shared
by forty sessions paid that forty times a refresh: 15% of the server's interpreter under a class. A frozen
figure pays it once. Its ``to_dict()`` hands out the stored result with a fresh top level and fresh traces,
because ``plotly.io.to_json`` pops each trace's "uid". The layout and the typed arrays inside are shared:
nothing downstream writes to them, and they must not be changed.
"""
from __future__ import annotations

import plotly.graph_objects as go


class FrozenFigure(go.Figure):
    """A figure whose ``to_dict()`` was computed once, by ``freeze``."""

    _sent: dict

    def to_dict(self) -> dict:
        sent = dict(self._sent)
        sent["data"] = [dict(trace) for trace in self._sent["data"]]
        return sent


def freeze(fig: go.Figure) -> FrozenFigure:
    """``fig`` itself, frozen: change it before, never after. In place, because a copy of the figure
    (``go.Figure(fig)``) costs half as much as building the training curves, and nothing else holds it."""
    if not isinstance(fig, FrozenFigure):
        sent = fig.to_dict()
        fig.__class__ = FrozenFigure
        fig._sent = sent
    return fig
