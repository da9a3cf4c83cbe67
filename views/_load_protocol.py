"""Run by `python -m fmnist bench --only load` (fmnist/bench/load.py) in a child interpreter: a class of
sessions against one running server that speak Streamlit's websocket protocol themselves, no browser, so
forty of them cost the machine little and the figures are the server's.

usage: python -m views._load_protocol SPEC.json OUT.json
SPEC: {"url", "runs": [run ids to watch], "sessions", "seconds", "watch_s", "open_timeout_s"}

Each session does what views/_load_driver.py's browser does, message for message (as read off Chromium's
frames): it opens the Train page on a live run on a new websocket (a fresh load: query string run=ID, page
name "train"); when the server asks for the live panel's auto-rerun it sends that fragment's rerun on the
asked cadence, whether or not the last one has finished, as the browser's timer does; it watches, then opens
Results, Data and Home by their page_script_hash (the browser's sidebar click: the query string cleared,
only the sidebar's widgets kept), and starts over until the time is up. Every rerun carries the widgets'
values as the browser would keep them (views/_load_wire.widget_state), so the pages run as a student
sees them. Measured, as in the browser driver: refresh (fragment rerun sent -> fragment finished), open
(connect or rerun sent -> script finished; no page to paint, so no wait for stale elements) and errors.
Not done, unlike a browser: no static files or health checks fetched, no message cache (every message
comes whole), no screenshots."""
from __future__ import annotations

import asyncio
import contextlib
import time

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ClientState_pb2 import ClientState, ContextInfo
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, WebSocketException
from websockets.typing import Origin, Subprotocol

from views._load_wire import DWELL_S, NAV, Stalled, Visits, Wire, cli, run_class

BROWSER = {"timezone": "UTC", "timezone_offset": 0, "locale": "en-US", "is_embedded": False,
           "color_scheme": "light"}  # what headless Chromium reports in context_info


class Connection:
    """One websocket, as one browser tab holds it: a reader feeding the wire, a timer per auto-rerun fragment."""

    def __init__(self, wire: Wire, url: str, timeout_s: float):
        self.wire, self.url, self.timeout_s = wire, url, timeout_s
        self.path = ""
        self.ws = None
        self.reader: asyncio.Task | None = None
        self.timers: dict[str, tuple[float, asyncio.Task]] = {}

    async def load(self, page_name: str, query_string: str) -> None:
        """A fresh load of /page_name?query_string: connect, then the first rerun the browser sends."""
        self.ws = await connect(self.url.replace("http", "ws", 1) + "/_stcore/stream", origin=Origin(self.url),
                                subprotocols=[Subprotocol("streamlit")], max_size=None, open_timeout=self.timeout_s)
        self.wire.leaving = False
        self.reader = asyncio.create_task(self._read())
        self.path, self.wire.query_string = page_name, query_string
        await self.rerun(page_name=page_name)

    async def navigate(self, title: str) -> None:
        """A click on the sidebar's link: the browser drops the page's timers, its widgets and its query string."""
        if title not in self.wire.pages:  # the server never sent its navigation: the last page never loaded
            raise Stalled(f"no sidebar link {title!r} yet: the page before it never finished loading")
        self._stop_timers()
        self.wire.query_string = ""
        self.path = title.lower()
        await self.rerun(page_hash=self.wire.pages[title], keep_page=False)

    async def rerun(self, page_hash: str = "", page_name: str = "", fragment_id: str = "", keep_page: bool = True):
        state = ClientState(query_string=self.wire.query_string, page_script_hash=page_hash, page_name=page_name,
                            fragment_id=fragment_id, is_auto_rerun=bool(fragment_id),
                            context_info=ContextInfo(url=f"{self.url}/{self.path}", **BROWSER))
        state.widget_states.widgets.extend(self.wire.widget_states(keep_page))
        payload = BackMsg(rerun_script=state).SerializeToString()
        self.wire.sent(payload)
        await self.ws.send(payload)

    async def _read(self) -> None:
        try:
            async for frame in self.ws:
                if isinstance(frame, bytes):
                    self.wire.received(frame)
                    self._sync_timers()
        except ConnectionClosed:
            pass
        finally:
            if not self.wire.leaving:
                self.wire.disconnects += 1

    def _sync_timers(self) -> None:
        """As the browser's handleAutoRerun: a timer per fragment the server asked for; the same interval keeps it."""
        for fragment, interval in self.wire.auto_rerun.items():
            if self.timers.get(fragment, (None,))[0] != interval:
                self._cancel(fragment)
                self.timers[fragment] = (interval, asyncio.create_task(self._every(fragment, interval)))
        for fragment in set(self.timers) - set(self.wire.auto_rerun):
            self._cancel(fragment)

    async def _every(self, fragment: str, interval: float) -> None:
        with contextlib.suppress(ConnectionClosed):
            while True:
                await asyncio.sleep(interval)
                await self.rerun(fragment_id=fragment)

    def _cancel(self, fragment: str) -> None:
        if fragment in self.timers:
            self.timers.pop(fragment)[1].cancel()

    def _stop_timers(self) -> None:
        self.wire.auto_rerun.clear()
        for fragment in list(self.timers):
            self._cancel(fragment)

    async def close(self) -> None:
        self.wire.leaving = True
        self._stop_timers()
        if self.ws is not None:
            await self.ws.close()
        if self.reader is not None:
            await self.reader


class Session(Visits):
    async def run(self, deadline: float) -> None:
        conn = None
        cycle = 0
        try:
            while time.perf_counter() < deadline:
                if conn is not None:
                    await conn.close()  # a new load: the old tab's socket closes
                conn = Connection(self.wire, self.spec["url"], self.timeout_s)
                query = self.train_url(cycle)[1]
                await self._open("train", lambda c=conn, q=query: c.load("train", q))
                left = deadline - time.perf_counter()  # the first watch is whole, however late it starts
                await self._watch(self.spec["watch_s"] if cycle == 0 else min(self.spec["watch_s"], left))
                for title in NAV:
                    if time.perf_counter() >= deadline:
                        break
                    await self._open(title.lower(), lambda c=conn, t=title: c.navigate(t))
                    await asyncio.sleep(DWELL_S)
                cycle += 1
        finally:
            if conn is not None:
                await conn.close()

    async def _open(self, name: str, action) -> None:
        before = self.wire.new_visit(name)
        start = time.perf_counter()
        try:
            await action()
            await self.wire.full_run_after(before, self.timeout_s)
            self.opened(name, time.perf_counter() - start)
        except (Stalled, KeyError, OSError, TimeoutError, WebSocketException) as exc:
            self.stalled(name, f"{type(exc).__name__}: {exc}")

    async def _watch(self, seconds: float) -> None:
        if seconds <= 0:
            return
        self.watched += 1
        first = self.wire.progress_text
        await asyncio.sleep(seconds)
        await self.refreshed_once()
        self.progress.append((first, self.wire.progress_text))


async def warm_up(spec: dict) -> None:
    """A fresh server given a deep link first runs views/ without app.py: the home page once, first."""
    wire = Wire(-1)
    conn = Connection(wire, spec["url"], 120)
    await conn.load("", "")
    await wire.full_run_after(0, 120)
    await conn.close()


async def main(spec: dict) -> dict:
    await warm_up(spec)
    return await run_class([Session(i, spec) for i in range(spec["sessions"])], spec["seconds"])


if __name__ == "__main__":
    cli(main)
