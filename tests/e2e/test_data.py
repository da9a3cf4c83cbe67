"""The Data page in a real browser: the notebook's first 25 images, a bigger grid, a click on the 2-D map."""
import re

import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout, expect

from fmnist import data, settings
from tests.e2e.conftest import screenshot, wait_for_app
from tests.servers import streamlit_app


def _title(page, text: str):
    return page.locator(".gtitle", has_text=text).first


def test_data_page_grid_and_map(page, app_url):
    page.goto(app_url)  # through the navigation, as a user arrives
    # until app.py has run once, Streamlit lists views/ itself ("data", "home"...): wait for the real menu
    page.get_by_text("Why accuracy?").wait_for()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data").click()
    _title(page, "The first 25 images of All 60,000 (file order)").wait_for()
    wait_for_app(page)
    first = data.parse_idx(data.find_files(settings.load())["train_labels"], "labels")[:25]
    shown = page.locator(".annotation-text").all_text_contents()
    assert sorted(shown) == sorted(data.CLASS_NAMES[c] for c in first)  # the training file's first 25
    screenshot(page, "data")

    slider = page.locator("[data-testid='stSlider'] input[type='range']")
    slider.focus()
    slider.press("ArrowRight")
    _title(page, "The first 36 images of All 60,000").wait_for()
    wait_for_app(page)
    assert "n=6" in page.url  # the grid size is in the link: a reload or a shared link keeps it
    screenshot(page, "data-grid-6")

    page.get_by_role("tab", name="2-D map").click()
    _title(page, "PCA of 5,000 images").wait_for()
    page.get_by_text("Click a point to see its image here.").wait_for()
    wait_for_app(page)
    image = page.locator("[data-testid='stImage']")
    for _ in range(3):  # a click that lands while the chart is still being redrawn is lost: click again
        box = page.locator(".scatterlayer path.point").nth(100).bounding_box()
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        hover = page.locator(".hovertext").first.text_content()  # "#49464 · Shirt"
        page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        try:
            image.wait_for(timeout=5_000)
            break
        except PlaywrightTimeout:
            continue
    wait_for_app(page)
    assert re.fullmatch(r"#\d+ · .+", hover), hover
    assert image.inner_text().strip() == hover  # the big image's caption names the clicked point
    screenshot(page, "data-map")


@pytest.fixture
def fresh_app(tmp_path, browser):
    """The app on a workspace with no dataset cache at all (the session's server has one copied in)."""
    home = tmp_path / "fresh-home"
    with streamlit_app(home, tmp_path / "streamlit.log") as url:
        yield url, home


def test_first_visit_shows_progress_while_the_cache_is_built(browser, fresh_app):
    url, home = fresh_app
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(90_000)
    page.goto(url)
    page.get_by_text("Why accuracy?").wait_for()
    assert not (home / "cache" / "fashion-mnist-v1.npz").exists()
    page.get_by_test_id("stSidebarNav").get_by_role("link", name="Data").click()
    spinner = page.get_by_test_id("stSpinner").filter(has_text="Preparing Fashion-MNIST for its first use")
    expect(spinner).to_be_visible(timeout=10_000)
    assert spinner.bounding_box()["y"] < 1000  # on screen, not below the fold
    screenshot(page, "data-first-visit")
    _title(page, "The first 25 images of All 60,000 (file order)").wait_for()
    expect(spinner).to_have_count(0)
    assert (home / "cache" / "fashion-mnist-v1.npz").exists()
    screenshot(page, "data-first-visit-done")
    context.close()
