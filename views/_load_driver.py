"""Run by `python -m fmnist bench --only load` (fmnist/bench/load.py) in a child interpreter: a class of
browser sessions against one running server, measured on Streamlit's own websocket.

usage: python views/_load_driver.py SPEC.json OUT.json
SPEC: {"url", "runs": [run ids to watch], "sessions", "seconds", "watch_s", "chromium", "flags", "shots",
"open_timeout_s"} ("shots": a folder for session 0's screenshots of each page, or null)

One headless Chromium, one context (a student) per session. Each session opens the Train page on a live
run (a fresh load, as a deep link or a reload does), watches its live panel (at least once whole, and until
it has refreshed at least once), then opens Results, Data and Home from the sidebar, and starts over until
the time is up. Measured from the frames on the wire:
- refresh: the browser's rerun request for the live fragment until the server's "fragment finished";
- open: from the click (or goto) until the script finished and no element on the page is stale;
- errors: every exception element and every error alert the server sent to a page, with its text.
It lives beside the pages, not in fmnist/, because it reads Streamlit's protocol (streamlit.proto)."""
from __future__ import annotations

import asyncio
import itertools
import json
import sys
import time

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

FULL, FRAGMENT = 0, 3  # ForwardMsg.ScriptFinishedStatus: FINISHED_SUCCESSFULLY, FINISHED_FRAGMENT_RUN_SUCCESSFULLY
SETTLED = ("() => !document.querySelector('[data-stale=\"true\"]') && !Array.from("
           "document.querySelectorAll('[data-testid=\"stStatusWidget\"]')).some(e => e.innerText.includes('Running'))")
NAV = ("Results", "Data", "Home")
DWELL_S = 2.0        # a look at each page before the next click
OPEN_TIMEOUT_S = 60  # default: a page that takes longer is counted as a stall, and the session goes on


class Wire:
    """One session's websocket traffic: fragment reruns timed, full runs counted, errors collected."""

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

    def attach(self, ws) -> None:
        ws.on("framesent", self._sent)
        ws.on("framereceived", self._received)
        ws.on("close", self._closed)

    def _sent(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = BackMsg()
        msg.ParseFromString(payload)
        if msg.WhichOneof("type") == "rerun_script":
            if msg.rerun_script.fragment_id:
                self.pending.append(time.perf_counter())
            else:
                self.pending.clear()  # a full run supersedes any fragment run still waiting

    def _received(self, payload) -> None:
        if isinstance(payload, str):
            return
        msg = ForwardMsg()
        msg.ParseFromString(payload)
        kind = msg.WhichOneof("type")
        if kind == "script_finished":
            now = time.perf_counter()
            if msg.script_finished == FRAGMENT and self.pending:
                self.refresh_s.append(now - self.pending.pop(0))
                self.finishes[-1].append(now)
            elif msg.script_finished == FULL:
                self.full_done += 1
            self.changed.set()
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self._check(msg.delta.new_element)

    def _check(self, element) -> None:
        kind = element.WhichOneof("type")
        if kind == "exception":
            e = element.exception
            self.errors.append({"session": self.session, "page": self.page, "kind": "exception",
                                "text": f"{e.type}: {e.message}"[:500], "stack": list(e.stack_trace)[-8:]})
        elif kind == "alert" and element.alert.format == 1:  # Alert.Format.ERROR: an st.error on the page
            self.errors.append({"session": self.session, "page": self.page, "kind": "error alert",
                                "text": element.alert.body[:500]})

    def _closed(self, _ws) -> None:
        if not self.leaving:
            self.disconnects += 1

    async def full_run_after(self, count: int, timeout: float) -> None:
        deadline = time.perf_counter() + timeout
        while self.full_done <= count:
            self.changed.clear()
            left = deadline - time.perf_counter()
            if left <= 0:
                raise PlaywrightTimeout("the page script did not finish")
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass


class Session:
    def __init__(self, index: int, browser, spec: dict):
        self.index, self.browser, self.spec = index, browser, spec
        self.wire = Wire(index)
        self.opens: dict[str, list[float]] = {}
        self.stalls: list[dict] = []
        self.watched = 0        # visits to a live run's train page
        self.progress: list[tuple[str, str]] = []  # the progress bar's text at each watch's start and end
        self.shot: set[str] = set()
        self.timeout_s = spec.get("open_timeout_s") or OPEN_TIMEOUT_S

    async def run(self, deadline: float) -> None:
        context = await self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(self.timeout_s * 1000)
        page = await context.new_page()
        page.on("websocket", self.wire.attach)
        runs = self.spec["runs"]
        cycle = 0
        try:
            while time.perf_counter() < deadline:
                url = f"{self.spec['url']}/train?run={runs[(self.index + cycle) % len(runs)]}"
                await self._open(page, "train", lambda u=url: page.goto(u, wait_until="commit"), goto=True)
                left = deadline - time.perf_counter()  # the first watch is whole, however late it starts
                await self._watch(page, self.spec["watch_s"] if cycle == 0 else min(self.spec["watch_s"], left))
                for name in NAV:
                    if time.perf_counter() >= deadline:
                        break
                    link = page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
                    await self._open(page, name.lower(), link.click)
                    await asyncio.sleep(DWELL_S)
                    await self._shoot(page, name.lower())
                cycle += 1
        finally:
            self.wire.leaving = True
            await context.close()

    async def _open(self, page, name: str, action, goto: bool = False) -> None:
        self.wire.page = name
        self.wire.finishes.append([])
        before = self.wire.full_done
        start = time.perf_counter()
        try:
            if goto:
                self.wire.leaving = True
                await action()
                self.wire.leaving = False
                await page.wait_for_selector("[data-testid='stApp']", timeout=self.timeout_s * 1000)
            else:
                await action()
            await self.wire.full_run_after(before, self.timeout_s)
            await page.wait_for_function(SETTLED, timeout=self.timeout_s * 1000)
            self.opens.setdefault(name, []).append(time.perf_counter() - start)
        except (PlaywrightTimeout, PlaywrightError) as exc:
            self.wire.leaving = False
            self.stalls.append({"session": self.index, "page": name, "error": str(exc).splitlines()[0][:300]})

    async def _watch(self, page, seconds: float) -> None:
        if seconds <= 0:
            return
        self.watched += 1
        first = await self._progress_text(page)
        await asyncio.sleep(seconds)
        waited = time.perf_counter()
        while not self.wire.finishes[-1]:  # a watch sees the panel refresh at least once, however slow
            if time.perf_counter() - waited > self.timeout_s:
                self.stalls.append({"session": self.index, "page": "train", "error": "the live panel never refreshed"})
                break
            await asyncio.sleep(0.5)
        self.progress.append((first, await self._progress_text(page)))
        await self._shoot(page, "train")

    async def _shoot(self, page, name: str) -> None:
        """Session 0's first look at each page, for a person to check (when the spec names a folder)."""
        path = f"{self.spec['shots']}/load-{name}.png" if self.spec.get("shots") else None
        if self.index == 0 and path and name not in self.shot:
            self.shot.add(name)
            try:
                if name == "train" and await page.get_by_test_id("stProgress").count():  # the live panel, not the form
                    await page.get_by_test_id("stProgress").first.scroll_into_view_if_needed()
                await page.screenshot(path=path)
            except PlaywrightError:
                pass

    async def _progress_text(self, page) -> str:
        try:
            # waits for the bar: right after the page settles the live fragment may not have drawn it yet
            return await page.get_by_test_id("stProgress").first.inner_text(timeout=30_000)
        except (PlaywrightTimeout, PlaywrightError) as exc:
            return f"(unread: {str(exc).splitlines()[0][:100]})"

    def result(self) -> dict:
        intervals = [b - a for visit in self.wire.finishes for a, b in itertools.pairwise(visit)]
        return {"session": self.index, "refresh_s": self.wire.refresh_s, "refresh_interval_s": intervals,
                "opens": self.opens, "errors": self.wire.errors, "stalls": self.stalls,
                "disconnects": self.wire.disconnects, "watched": self.watched, "progress": self.progress}


async def main(spec: dict) -> dict:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=spec["chromium"], args=spec["flags"])
        try:
            warm = await browser.new_page()  # a fresh server given a deep link first runs views/ without app.py
            await warm.goto(spec["url"])
            await warm.wait_for_function(SETTLED, timeout=120_000)
            await warm.close()
            sessions = [Session(i, browser, spec) for i in range(spec["sessions"])]
            started = time.perf_counter()
            deadline = started + spec["seconds"]
            stagger = min(10.0, spec["seconds"] / 4) / max(1, len(sessions))  # a class arrives over a few seconds

            async def one(s: Session) -> None:
                await asyncio.sleep(s.index * stagger)
                await s.run(deadline)

            outcomes = await asyncio.gather(*(one(s) for s in sessions), return_exceptions=True)
            crashed = [f"{type(o).__name__}: {o}"[:300] for o in outcomes if isinstance(o, BaseException)]
            return {"seconds": time.perf_counter() - started, "sessions": [s.result() for s in sessions],
                    "crashed": crashed}
        finally:
            await browser.close()


if __name__ == "__main__":
    with open(sys.argv[1]) as fh:
        result = asyncio.run(main(json.load(fh)))
    with open(sys.argv[2], "w") as fh:
        json.dump(result, fh)
