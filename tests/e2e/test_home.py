from tests.e2e.conftest import screenshot, wait_for_app


def test_home_page_shows_the_lab_and_its_path(page, app_url):
    page.goto(app_url)
    wait_for_app(page)
    page.get_by_text("Fashion-MNIST Lab").first.wait_for()
    assert page.get_by_text("Why accuracy?").is_visible()
    assert page.get_by_text("60,000").first.is_visible()
    assert page.get_by_text("6. Final model on the test set", exact=False).is_visible()
    screenshot(page, "home")
