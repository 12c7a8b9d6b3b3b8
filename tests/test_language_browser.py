"""Choosing the interface language in the browser: the switcher on every page, and the choice kept
on the account, so that it comes back after signing in again on another device."""

from __future__ import annotations

import pytest

from . import factories
from .test_browser import page, sign_in  # noqa: F401  (the browser fixture)

pytestmark = pytest.mark.browser


def test_the_language_chosen_comes_back_after_signing_in_again(live_server, page, make):  # noqa: F811
    org = make.organisation(name="Chao Phraya Media")
    admin = make.user(org)
    sign_in(page, live_server, admin.email, factories.PASSWORD)
    assert page.locator("html").get_attribute("lang") == "en"

    page.get_by_label("Language").select_option("th")
    page.get_by_role("button", name="Change language").click()
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "th"
    assert page.locator("#language-choice").input_value() == "th"

    page.locator("form.signout button").click()  # its label is Thai now
    page.wait_for_load_state()
    page.context.clear_cookies()  # another device: nothing remembered in the browser
    sign_in(page, live_server, admin.email, factories.PASSWORD)
    page.wait_for_load_state()
    assert page.locator("html").get_attribute("lang") == "th"
    assert page.locator("form.signout button").inner_text() != "Sign out"
