"""The pages behind the links of account e-mails, in a real browser: the
link is taken from the mail the service wrote (the embedded default's
.eml files), opened as a reader opens it, and what it did is checked
through the API."""

import uuid

from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

WAIT = 15
NEW_PASSWORD = "a new password from the link"


def text_in(driver, css, text):
    return WebDriverWait(driver, WAIT).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def visible(driver, css):
    return WebDriverWait(driver, WAIT).until(EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def sign_up(server):
    email = f"page-{uuid.uuid4().hex[:10]}@example.org"
    status, body = server.call("POST", "/v1/auth/register", {
        "email": email, "password": "the first long password", "display_name": "Page Reader", "role": "patient"})
    assert status == 201, body
    return email, body["tokens"]["access_token"]


def test_a_password_is_reset_through_the_page_behind_the_link(server, browser):
    email, _ = sign_up(server)
    server.link_in(email, "/verify-email")
    status, _ = server.call("POST", "/v1/auth/password-reset", {"email": email})
    assert status == 202
    link = server.link_in(email, "/reset-password", count=2)

    browser.get(link)
    visible(browser, "#reset-form")
    # The token leaves the address bar at once.
    assert "token" not in browser.current_url
    browser.find_element(By.ID, "new-password").send_keys(NEW_PASSWORD)
    browser.find_element(By.ID, "repeat-password").send_keys(NEW_PASSWORD + " typo")
    browser.find_element(By.CSS_SELECTOR, "#reset-form button").click()
    text_in(browser, "#outcome", "not the same")
    repeat = browser.find_element(By.ID, "repeat-password")
    repeat.clear()
    repeat.send_keys(NEW_PASSWORD)
    browser.find_element(By.CSS_SELECTOR, "#reset-form button").click()
    text_in(browser, "#outcome", "Your password is set")
    assert "therapists on the dashboard" in browser.find_element(By.ID, "outcome").text

    # Stored: the new password signs in, the old does not, the address is proven.
    status, body = server.call("POST", "/v1/auth/login", {"email": email, "password": NEW_PASSWORD})
    assert status == 200 and body["user"]["email_verified"] is True, body
    status, _ = server.call("POST", "/v1/auth/login", {"email": email, "password": "the first long password"})
    assert status == 401
    # The same link again is explained, not a blank failure.
    browser.get(link)
    visible(browser, "#reset-form")
    browser.find_element(By.ID, "new-password").send_keys("yet another long password")
    browser.find_element(By.ID, "repeat-password").send_keys("yet another long password")
    browser.find_element(By.CSS_SELECTOR, "#reset-form button").click()
    text_in(browser, "#outcome", "This reset link was used already or has expired")
    # A spent link: the form is gone, the words are the reset page's own.
    assert not browser.find_element(By.ID, "reset").is_displayed()
    assert "turn these mails off" not in browser.find_element(By.ID, "outcome").text


def test_an_address_is_confirmed_by_a_click_on_the_page(server, browser):
    email, token = sign_up(server)
    link = server.link_in(email, "/verify-email")

    browser.get(link)
    button = visible(browser, "#verify-button")
    # Opening the page confirms nothing (a mail scanner may open links).
    status, me = server.call("GET", "/v1/me", token=token)
    assert me["email_verified"] is False, me
    button.click()
    text_in(browser, "#outcome", "the address is confirmed")
    status, me = server.call("GET", "/v1/me", token=token)
    assert status == 200 and me["email_verified"] is True, me


def test_a_link_without_its_token_is_explained(server, browser):
    browser.get(server.base + "/reset-password")
    text_in(browser, "#outcome", "needs the whole link")
    assert not browser.find_element(By.ID, "reset").is_displayed()


def test_reminders_are_turned_off_from_the_page_behind_a_mails_link(server, browser):
    import hashlib
    import sqlite3

    email, token = sign_up(server)
    status, saved = server.call("PUT", "/v1/me/reminders",
                                {"enabled": True, "local_time": "20:00", "days": ["mon"]}, token=token)
    assert status == 200 and saved["next_due_at"], saved
    # The token a reminder mail would carry (stored hashed, as the scheduler does).
    link_token = uuid.uuid4().hex + uuid.uuid4().hex
    _, me = server.call("GET", "/v1/me", token=token)
    with sqlite3.connect(server.folder / "painline.db") as db:
        db.execute("INSERT INTO unsubscribe_tokens (token_hash, user_id, kind, created_at) "
                   "VALUES (?, ?, 'reminder', datetime('now'))",
                   (hashlib.sha256(link_token.encode()).hexdigest(), me["id"]))

    browser.get(f"{server.base}/unsubscribe#token={link_token}")
    button = visible(browser, "#unsubscribe-button")
    assert "token" not in browser.current_url
    _, still = server.call("GET", "/v1/me/reminders", token=token)
    assert still["enabled"] is True  # opening the page changes nothing
    button.click()
    text_in(browser, "#outcome", "these mails are off")
    _, after = server.call("GET", "/v1/me/reminders", token=token)
    assert after["enabled"] is False and after["next_due_at"] is None, after
