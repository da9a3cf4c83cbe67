from playwright.sync_api import expect

from tests.e2e.conftest import screenshot, wait_for_app


def test_home_page_shows_the_lab_and_its_path(page, app_url):
    page.goto(app_url)
    wait_for_app(page)
    expect(page.get_by_role("heading", name="Fashion-MNIST Lab")).to_be_visible()
    expect(page.get_by_text("Why accuracy?")).to_be_visible()
    expect(page.get_by_text("60,000").first).to_be_visible()
    expect(page.get_by_text("6. Final model on the test set")).to_be_visible()
    screenshot(page, "home")
