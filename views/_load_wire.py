"""What both load drivers (views/_load_driver.py: browsers, views/_load_protocol.py: no browser) read off
Streamlit's websocket, and the loop a class of sessions runs in. It reads Streamlit's protocol
(streamlit.proto), so it lives beside the pages, not in fmnist/.

Wire decodes one session's frames: fragment reruns timed from request to "fragment finished", full runs
counted, every exception element and error alert collected, and what a browser keeps to talk back (the
widgets' values, the app's pages, the query string, the live panel's auto-rerun)."""
from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

FULL, FRAGMENT = 0, 3  # ForwardMsg.ScriptFinishedStatus: FINISHED_SUCCESSFULLY, FINISHED_FRAGMENT_RUN_SUCCESSFULLY
ERROR_ALERT = 1        # Alert.Format.ERROR: an st.error on the page
NAV = ("Results", "Data", "Home")
DWELL_S = 2.0          # a look at each page before the next click
OPEN_TIMEOUT_S = 60    # default: a page that takes longer is counted as a stall, and the session goes on


class Stalled(Exception):
    """A page script that did not finish in time."""


def widget_state(element) -> WidgetState | None:
    """The value a browser keeps for a widget it has just drawn (the one set from the script, else its default),
    as it sends it back with every rerun; None for elements that send nothing until clicked or selected."""
    kind = element.WhichOneof("type")
    w = getattr(element, kind)
    ws = WidgetState(id=getattr(w, "id", ""))
    if not ws.id:
        return None
    if kind == "checkbox":  # st.checkbox and st.toggle
        ws.bool_value = w.value if w.set_value else w.default
    elif kind in ("text_input", "text_area", "number_input"):
        source = "value" if w.set_value else "default"
        if not w.HasField(source):
            return ws  # None: an empty box
        value = getattr(w, source)
        if kind != "number_input":
            ws.string_value = value
        elif w.data_type == w.DataType.INT:
            ws.int_value = int(value)
        else:
            ws.double_value = value
    elif kind in ("selectbox", "radio"):
        if w.set_value and w.HasField("raw_value"):
            ws.string_value = w.raw_value
        elif not w.set_value and w.HasField("default"):
            ws.string_value = w.options[w.default]
    elif kind == "multiselect":
        ws.string_array_value.data.extend(w.raw_values if w.set_value else [w.options[i] for i in w.default])
    elif kind == "slider" and not w.options:  # a numeric slider (a select_slider has options)
        ws.double_array_value.data.extend(w.value if w.set_value else w.default)
    elif kind == "button_group":  # st.segmented_control, st.pills
        ws.string_array_value.data.extend(w.raw_values if w.set_value else [w.options[i].content for i in w.default])
    else:
        return None  # buttons (triggers), charts and tables with selections: nothing until a click
    return ws


class Wire:
    """One session's websocket traffic, decoded."""

    def __init__(self, session: int):
        self.session = session
        self.page = "start"
        self.pending: list[float] = []      # send times of fragment reruns not yet answered
        self.refresh_s: list[float] = []
        self.finishes: list[list[float]] = [[]]  # when each fragment run finished, one list a page visit
        self.full_done = 0
        self.changed = asyncio.Event()
        self.errors: list[dict] = []
        self.disconnects = 0
        self.leaving = False                # a goto or the end: the old socket closing is expected
        self.pages: dict[str, str] = {}     # page title -> page_script_hash, from the navigation message
        self.main_hash = ""                 # app.py's script hash: its widgets (the sidebar) outlive a page change
        self.query_string = ""
        self.widgets: dict[str, tuple[WidgetState, str]] = {}  # id -> (state, hash of the script that drew it)
        self.drawn: set[str] = set()        # widget ids drawn since the last full run began
        self.auto_rerun: dict[str, float] = {}  # fragment id -> interval, while the server asks for reruns
        self.progress_text = ""             # the last progress bar's text (the live panel's epoch line)
        self.widgets_sent: dict[str, str] = {}  # the first fragment rerun's widget values, for comparing drivers

    def sent(self, payload: bytes) -> None:
        msg = BackMsg()
        msg.ParseFromString(payload)
        if msg.WhichOneof("type") != "rerun_script":
            return
        if msg.rerun_script.fragment_id:
            self.pending.append(time.perf_counter())
            if not self.widgets_sent:
                self.widgets_sent = {w.id: _value_text(w) for w in msg.rerun_script.widget_states.widgets}
        else:
            self.pending.clear()  # a full run supersedes any fragment run still waiting
            self.drawn.clear()

    def received(self, payload: bytes) -> None:
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "script_finished":
            self._finished(msg.script_finished)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._check(msg.delta.new_element)
            self._keep(msg.delta.new_element, msg.metadata.active_script_hash)
        elif kind == "new_session":
            self.main_hash = msg.new_session.main_script_hash or self.main_hash
        elif kind == "navigation":
            self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "page_info_changed":
            self.query_string = msg.page_info_changed.query_string
        elif kind == "auto_rerun" and msg.auto_rerun.fragment_id:
            self.auto_rerun[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval
        elif kind == "stop_auto_rerun":
            for fragment in msg.stop_auto_rerun.fragment_ids:
                self.auto_rerun.pop(fragment, None)

    def _finished(self, status: int) -> None:
        now = time.perf_counter()
        if status == FRAGMENT and self.pending:
            self.refresh_s.append(now - self.pending.pop(0))
            self.finishes[-1].append(now)
        elif status == FULL:
            self.full_done += 1
            # as the browser does: widgets the whole run did not draw again are gone
            self.widgets = {k: v for k, v in self.widgets.items() if k in self.drawn}
        self.changed.set()

    def _check(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            e = element.exception
            self.errors.append({"session": self.session, "page": self.page, "kind": "exception",
                                "text": f"{e.type}: {e.message}"[:500], "stack": list(e.stack_trace)[-8:]})
        elif kind == "alert" and element.alert.format == ERROR_ALERT:
            self.errors.append({"session": self.session, "page": self.page, "kind": "error alert",
                                "text": element.alert.body[:500]})
        elif kind == "progress":
            self.progress_text = element.progress.text

    def _keep(self, element, script_hash: str) -> None:
        state = widget_state(element)
        if state is not None:
            self.widgets[state.id] = (state, script_hash)
            self.drawn.add(state.id)

    def widget_states(self, keep_page: bool = True) -> list[WidgetState]:
        """What the browser sends with a rerun: every widget's value; on a page change only the main script's."""
        return [s for s, script in self.widgets.values() if keep_page or script == self.main_hash]

    def new_visit(self, page: str) -> int:
        """A page is being opened: later refreshes and errors count for it; returns the full runs so far."""
        self.page = page
        self.finishes.append([])
        return self.full_done

    async def full_run_after(self, count: int, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while self.full_done <= count:
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise Stalled("the page script did not finish")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    def intervals(self) -> list[float]:
        return [b - a for visit in self.finishes for a, b in itertools.pairwise(visit)]


def _value_text(ws: WidgetState) -> str:
    field = ws.WhichOneof("value")
    if field is None:
        return "(none)"
    value = getattr(ws, field)
    return f"{field}={list(value.data) if hasattr(value, 'data') else value}"


class Visits:
    """What one session measured, whichever driver drove it."""

    def __init__(self, index: int, spec: dict):
        self.index, self.spec = index, spec
        self.wire = Wire(index)
        self.opens: dict[str, list[float]] = {}
        self.stalls: list[dict] = []
        self.watched = 0        # visits to a live run's train page
        self.progress: list[tuple[str, str]] = []  # the progress bar's text at each watch's start and end
        self.timeout_s = spec.get("open_timeout_s") or OPEN_TIMEOUT_S

    def opened(self, name: str, seconds: float) -> None:
        self.opens.setdefault(name, []).append(seconds)

    def stalled(self, name: str, error: str) -> None:
        self.stalls.append({"session": self.index, "page": name, "error": error.splitlines()[0][:300]})

    def train_url(self, cycle: int) -> tuple[int, str]:
        """The live run this session watches on its cycle'th round, and the train page's query string."""
        runs = self.spec["runs"]
        run_id = runs[(self.index + cycle) % len(runs)]
        return run_id, f"run={run_id}"

    async def refreshed_once(self) -> None:
        """A watch sees the live panel refresh at least once, however slow."""
        waited = time.perf_counter()
        while not self.wire.finishes[-1]:
            if time.perf_counter() - waited > self.timeout_s:
                self.stalled("train", "the live panel never refreshed")
                return
            await asyncio.sleep(0.5)

    def result(self) -> dict:
        return {"session": self.index, "refresh_s": self.wire.refresh_s, "refresh_interval_s": self.wire.intervals(),
                "opens": self.opens, "errors": self.wire.errors, "stalls": self.stalls,
                "disconnects": self.wire.disconnects, "watched": self.watched, "progress": self.progress,
                "widgets_sent": self.wire.widgets_sent if self.index == 0 else {}}


async def run_class(sessions: list, seconds: float) -> dict:
    """Every session's run(deadline), arriving over a few seconds as a class does; their results."""
    started = time.perf_counter()
    deadline = started + seconds
    stagger = min(10.0, seconds / 4) / max(1, len(sessions))

    async def one(s) -> None:
        await asyncio.sleep(s.index * stagger)
        await s.run(deadline)

    outcomes = await asyncio.gather(*(one(s) for s in sessions), return_exceptions=True)
    crashed = [f"{type(o).__name__}: {o}"[:300] for o in outcomes if isinstance(o, BaseException)]
    return {"seconds": time.perf_counter() - started, "sessions": [s.result() for s in sessions], "crashed": crashed}


def cli(main) -> None:
    """usage: python -m views.<driver> SPEC.json OUT.json: main(spec) -> result, written as JSON."""
    with open(sys.argv[1]) as fh:
        result = asyncio.run(main(json.load(fh)))
    with open(sys.argv[2], "w") as fh:
        json.dump(result, fh)
