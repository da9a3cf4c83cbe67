"""Run by `python -m fmnist bench --only load` (fmnist/bench/load.py) in a child interpreter: a class of
browser sessions against one running server, measured on Streamlit's own websocket.

usage: python -m views._load_driver SPEC.json OUT.json
SPEC: {"url", "runs": [run ids to watch], "sessions", "seconds", "watch_s", "chromium", "flags", "shots",
"open_timeout_s"} ("shots": a folder for session 0's screenshots of each page, or null)

One headless Chromium, one context (a student) per session. Each session opens the Train page on a live
run (a fresh load, as a deep link or a reload does), watches its live panel (at least once whole, and until
it has refreshed at least once), then opens Results, Data and Home from the sidebar, and starts over until
the time is up. Measured from the frames on the wire:
- refresh: the browser's rerun request for the live fragment until the server's "fragment finished";
- open: from the click (or goto) until the script finished and no element on the page is stale;
- errors: every exception element and every error alert the server sent to a page, with its text.
The decoding and the class's loop are shared with the browserless driver (views/_load_protocol.py) in
views/_load_wire.py; it lives beside the pages, not in fmnist/, because it reads Streamlit's protocol."""
from __future__ import annotations

import asyncio
import time

from playwright.async_api import Error as PlaywrightError, TimeoutError as PlaywrightTimeout, async_playwright

from views._load_wire import DWELL_S, NAV, Stalled, Visits, Wire, cli, run_class

SETTLED = ("() => !document.querySelector('[data-stale=\"true\"]') && !Array.from("
           "document.querySelectorAll('[data-testid=\"stStatusWidget\"]')).some(e => e.innerText.includes('Running'))")


class BrowserWire(Wire):
    """The frames Playwright saw on the page's websocket."""

    def attach(self, ws) -> None:
        ws.on("framesent", lambda p: None if isinstance(p, str) else self.sent(p))
        ws.on("framereceived", lambda p: None if isinstance(p, str) else self.received(p))
        ws.on("close", self._closed)

    def _closed(self, _ws) -> None:
        if not self.leaving:
            self.disconnects += 1


class Session(Visits):
    def __init__(self, index: int, browser, spec: dict):
        super().__init__(index, spec)
        self.browser = browser
        self.wire = BrowserWire(index)
        self.shot: set[str] = set()

    async def run(self, deadline: float) -> None:
        context = await self.browser.new_context(viewport={"width": 1280, "height": 900})
        context.set_default_timeout(self.timeout_s * 1000)
        page = await context.new_page()
        page.on("websocket", self.wire.attach)
        cycle = 0
        try:
            while time.perf_counter() < deadline:
                url = f"{self.spec['url']}/train?{self.train_url(cycle)[1]}"
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
        before = self.wire.new_visit(name)
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
            self.opened(name, time.perf_counter() - start)
        except (Stalled, PlaywrightTimeout, PlaywrightError) as exc:
            self.wire.leaving = False
            self.stalled(name, str(exc))

    async def _watch(self, page, seconds: float) -> None:
        if seconds <= 0:
            return
        self.watched += 1
        first = await self._progress_text(page)
        await asyncio.sleep(seconds)
        await self.refreshed_once()
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


async def main(spec: dict) -> dict:
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=spec["chromium"], args=spec["flags"])
        try:
            warm = await browser.new_page()  # a fresh server given a deep link first runs views/ without app.py
            await warm.goto(spec["url"])
            await warm.wait_for_function(SETTLED, timeout=120_000)
            await warm.close()
            return await run_class([Session(i, browser, spec) for i in range(spec["sessions"])], spec["seconds"])
        finally:
            await browser.close()


if __name__ == "__main__":
    cli(main)
