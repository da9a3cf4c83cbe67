"""A link straight to a page (a reload of /train?run=N) must still get the app shell."""
from tests.e2e.conftest import wait_for_app


def test_a_deep_link_runs_inside_the_app_shell(page, app_url):
    page.goto(f"{app_url}/results")
    wait_for_app(page)
    page.get_by_role("heading", name="Results").first.wait_for()
    assert page.get_by_text("Your name").count() == 1  # the sidebar that app.py draws
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Sketch" in nav and "common" not in nav.lower()
