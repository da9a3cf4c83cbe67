"""A link straight to a page (a reload of /train?run=N) must still get the app shell."""
from playwright.sync_api import expect

from tests.e2e.conftest import wait_for_app


def test_a_deep_link_runs_inside_the_app_shell(page, app_url):
    page.goto(f"{app_url}/results")
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Results").first).to_be_visible()
    expect(page.get_by_text("Your name")).to_have_count(1)  # the sidebar that app.py draws
    nav = page.get_by_test_id("stSidebarNav")
    expect(nav).to_contain_text("Sketch")
    expect(nav).not_to_contain_text("common")
