"""The reference dashboard in a real browser (headless Chromium), against
the real service on the demo data: the therapist's whole story, hostile
text, an ended session, refusals, and a phone-sized screen."""

import re
import uuid

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import PASSWORD, THERAPIST

WAIT = 15


def wait(driver, condition):
    # A screen redrawn while a condition looks at it is looked at again.
    return WebDriverWait(driver, WAIT, ignored_exceptions=(StaleElementReferenceException,)).until(condition)


def visible(driver, css):
    return wait(driver, EC.visibility_of_element_located((By.CSS_SELECTOR, css)))


def text_in(driver, css, text):
    return wait(driver, EC.text_to_be_present_in_element((By.CSS_SELECTOR, css), text))


def console_errors(driver):
    return [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]


def sign_in(driver, server, email=THERAPIST, password=PASSWORD):
    driver.get(server.base + "/dashboard/")
    form = visible(driver, "form#sign-in-form")
    assert form.find_element(By.CSS_SELECTOR, "input[type=email]")
    field = driver.find_element(By.ID, "email")
    field.clear()
    field.send_keys(email)
    password_field = driver.find_element(By.ID, "password")
    password_field.send_keys(password)
    password_field.send_keys(Keys.ENTER)  # a real form: Enter signs in


def patient_rows(driver):
    visible(driver, "table#patients")
    return driver.find_elements(By.CSS_SELECTOR, "table#patients tbody tr")


def demo_patient(server, token, part):
    _, body = server.call("GET", "/v1/patients", token=token)
    return next(p for p in body["items"] if part in p["display_name"])


def test_the_therapists_whole_story(server, browser, screenshots):
    token = server.login(THERAPIST)
    sign_in(browser, server)
    rows = patient_rows(browser)
    assert len(rows) == 3
    has_alerts = [bool(r.find_elements(By.CSS_SELECTOR, ".badge")) for r in rows]
    assert has_alerts == sorted(has_alerts, reverse=True), "patients with alerts come first"
    assert "Maria" in rows[0].text and "Precaution" in rows[0].text
    browser.save_screenshot(str(screenshots / "patients.png"))

    # The osteoporosis patient: the precaution is written, in the first screen.
    rows[0].find_element(By.CSS_SELECTOR, "a.patient-link").click()
    banner = visible(browser, "#precautions")
    assert "Osteoporosis" in banner.text
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", banner)
    assert 0 <= top < browser.execute_script("return window.innerHeight")
    chart = visible(browser, "img#chart")
    wait(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", chart))
    assert "massage sessions" in chart.get_attribute("alt")
    intervals = browser.find_elements(By.CSS_SELECTOR, "table#intervals tbody tr")
    assert len(intervals) >= 5  # 90 days, a session every 14
    assert len(browser.find_elements(By.CSS_SELECTOR, "table#daily tbody tr")) == 90
    # Light pressure is offered first for osteoporosis.
    assert Select(browser.find_element(By.ID, "pressure")).first_selected_option.get_attribute("value") == "light"
    browser.save_screenshot(str(screenshots / "patient.png"))

    maria = demo_patient(server, token, "Maria")
    path = f"/v1/patients/{maria['id']}/massage-sessions?limit=1000"
    known = {s["id"] for s in server.call("GET", path, token=token)[1]["items"]}
    stored = len(known)

    assert console_errors(browser) == [], "the happy path logs no error"

    # Area minutes over the duration: the API's own message, nothing stored.
    minutes = browser.find_element(By.CSS_SELECTOR, "#areas .area input[name=minutes]")
    minutes.clear()
    minutes.send_keys("50")
    browser.find_element(By.CSS_SELECTOR, "#session-form button[type=submit]").click()
    errors = visible(browser, "#session-errors")
    assert "minutes add up to 90, more than duration_minutes (60)" in errors.text
    assert len(server.call("GET", path, token=token)[1]["items"]) == stored
    browser.save_screenshot(str(screenshots / "session-refused.png"))

    # Quadratus lumborum 20 min each side and gluteus medius 20 min.
    minutes.clear()
    minutes.send_keys("20")
    browser.find_element(By.ID, "pain_before").send_keys("6")
    browser.find_element(By.ID, "notes").send_keys("Gentle work only; patient comfortable.")
    browser.find_element(By.CSS_SELECTOR, "#session-form button[type=submit]").click()
    text_in(browser, "#notice", "recorded")
    sessions = server.call("GET", path, token=token)[1]["items"]
    assert len(sessions) == stored + 1
    new = next(s for s in sessions if s["id"] not in known)
    assert new["date"] == maria["today"]
    assert visible(browser, f"table#intervals tbody tr[data-session='{new['id']}']")
    assert new["technique"] == "swedish" and new["pressure"] == "light"
    assert [(a["muscle"], a["side"], a["minutes"]) for a in new["areas"]] == [
        ("quadratus_lumborum", "left", 20), ("quadratus_lumborum", "right", 20), ("gluteus_medius", "both", 20)]
    assert new["pain_before"] == 6
    assert new["recorded_by"]["role"] == "therapist"

    # Invitations: create one, see the code, withdraw it.
    browser.find_element(By.LINK_TEXT, "Invitations").click()
    visible(browser, "form#invite-form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code = visible(browser, "#invitation-code").text
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", code), code
    visible(browser, "#open-invitations li")
    assert len(server.call("GET", "/v1/invitations", token=token)[1]["items"]) == 1
    browser.save_screenshot(str(screenshots / "invitations.png"))
    browser.find_element(By.CSS_SELECTOR, "#open-invitations li button").click()
    text_in(browser, "#notice", "withdrawn")
    assert server.call("GET", "/v1/invitations", token=token)[1]["items"] == []

    # Every request refreshed first (a 60 s token): one refresh at a time,
    # or rotation would have caught a reused token and ended the session.
    assert server.metric("painline_http_requests_total", endpoint="/v1/auth/refresh", status="200") >= 5
    assert server.metric("painline_http_requests_total", endpoint="/v1/auth/refresh", status="401") == 0

    browser.find_element(By.ID, "sign-out").click()
    visible(browser, "form#sign-in-form")
    text_in(browser, "#sign-in-message", "You are signed out.")
    assert browser.execute_script("return window.localStorage.length + window.sessionStorage.length") == 0
    # The only error since is the browser's note of the refused request.
    others = [e for e in console_errors(browser) if "(Unprocessable Entity)" not in e["message"]]
    assert others == [], others


def test_patient_written_text_is_shown_as_text(server, browser):
    hostile = "<img src=x onerror=alert(1)>"
    status, body = server.call("POST", "/v1/auth/register", {
        "email": f"x{uuid.uuid4().hex[:8]}@example.org", "password": "correct horse battery",
        "display_name": hostile, "role": "patient"})
    assert status == 201
    patient_token = body["tokens"]["access_token"]
    therapist_token = server.login(THERAPIST)
    _, invitation = server.call("POST", "/v1/invitations", {}, therapist_token)
    status, _ = server.call("POST", "/v1/me/care-team", {"code": invitation["code"]}, patient_token)
    assert status == 201
    note = "<script>alert(2)</script><b>bold</b>"
    status, _ = server.call("PUT", "/v1/me/conditions/pregnancy", {"note": note}, patient_token)
    assert status == 201

    sign_in(browser, server)
    rows = patient_rows(browser)
    links = [r.find_element(By.CSS_SELECTOR, "a.patient-link") for r in rows]
    assert hostile in [link.text for link in links]
    assert browser.find_elements(By.CSS_SELECTOR, "table#patients img") == []
    next(link for link in links if link.text == hostile).click()
    assert visible(browser, "#patient-name").text == hostile
    banner = visible(browser, "#precautions")
    assert note in banner.text
    assert banner.find_elements(By.CSS_SELECTOR, "script, b, img") == []
    try:
        browser.switch_to.alert
        raise AssertionError("a script in a display name ran")
    except NoAlertPresentException:
        pass
    assert browser.find_elements(By.CSS_SELECTOR, "main img:not(#chart)") == []


def test_an_ended_session_sends_the_therapist_back_to_sign_in_once(server, browser):
    sign_in(browser, server)
    patient_rows(browser)
    # Elsewhere, the password changes: every refresh token of the account is revoked.
    token = server.login(THERAPIST)
    status, _ = server.call("POST", "/v1/me/password",
                            {"current_password": PASSWORD, "new_password": "another demo password"}, token)
    assert status == 204
    refused_before = server.metric("painline_http_requests_total", endpoint="/v1/auth/refresh", status="401")
    browser.find_element(By.LINK_TEXT, "Invitations").click()
    visible(browser, "form#sign-in-form")
    text_in(browser, "#sign-in-message", "Your session has ended. Please sign in again.")
    assert browser.find_element(By.ID, "nav").get_attribute("hidden") is not None
    refused = server.metric("painline_http_requests_total", endpoint="/v1/auth/refresh", status="401")
    assert refused - refused_before == 1, "one refused refresh, no loop"


def test_refusals_are_explained(server, browser):
    sign_in(browser, server, password="not the password at all")
    text_in(browser, "#sign-in-message", "Unknown e-mail or wrong password.")
    sign_in(browser, server, email="alex@demo.painline.example")
    text_in(browser, "#sign-in-message", "This dashboard is for therapists.")
    sign_in(browser, server)
    patient_rows(browser)
    browser.get(f"{server.base}/dashboard/#/patients/{uuid.uuid4()}")
    # A new page load has no session: back to sign-in, then to the unknown patient.
    sign_in(browser, server)
    patient_rows(browser)
    browser.execute_script(f"location.hash = '#/patients/{uuid.uuid4()}'")
    text_in(browser, "main .error", "not linked to you")


def test_a_phone_sized_screen_and_the_keyboard(server, phone, screenshots):
    sign_in(phone, server)
    patient_rows(phone)
    width = phone.execute_script("return document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide"
    phone.save_screenshot(str(screenshots / "phone-patients.png"))
    # To the first patient with the keyboard alone.
    link = phone.find_element(By.CSS_SELECTOR, "a.patient-link")
    for _ in range(40):
        if phone.switch_to.active_element == link:
            break
        phone.switch_to.active_element.send_keys(Keys.TAB)
    assert phone.switch_to.active_element == link
    phone.switch_to.active_element.send_keys(Keys.ENTER)
    visible(phone, "#precautions")
    visible(phone, "img#chart")
    width = phone.execute_script("return document.documentElement.scrollWidth")
    assert width <= 375, f"the page is {width}px wide"
    phone.save_screenshot(str(screenshots / "phone-patient.png"))
    assert console_errors(phone) == []


def test_a_change_made_elsewhere_is_a_412_and_the_latest_rules_are_shown(server, browser):
    token = server.login(THERAPIST)
    alex = demo_patient(server, token, "Alex")
    sign_in(browser, server)
    patient_rows(browser)
    browser.execute_script(f"location.hash = '#/patients/{alex['id']}'")
    field = visible(browser, "#rules-form #spike_delta")
    # Another dashboard saves first.
    status, _ = server.call("PUT", f"/v1/patients/{alex['id']}/alert-settings", {"spike_delta": 5}, token)
    assert status == 200
    field.clear()
    field.send_keys("2")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    text_in(browser, "#notice", "Someone changed this in the meantime")
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#rules-form #spike_delta").get_attribute("value") == "5")
    _, rules = server.call("GET", f"/v1/patients/{alex['id']}/alert-settings", token=token)
    assert rules["spike_delta"] == 5, "the other dashboard's change is kept"
    # Saving again, on the version now shown, works.
    field = browser.find_element(By.CSS_SELECTOR, "#rules-form #spike_delta")
    field.clear()
    field.send_keys("2")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    text_in(browser, "#notice", "Alert rules saved.")
    assert server.call("GET", f"/v1/patients/{alex['id']}/alert-settings", token=token)[1]["spike_delta"] == 2


def test_throttled_sign_in_and_an_unavailable_database_are_explained(server, browser):
    for _ in range(5):
        sign_in(browser, server, password="not the password at all")
        text_in(browser, "#sign-in-message", "Unknown e-mail or wrong password.")
    sign_in(browser, server)
    text_in(browser, "#sign-in-message", "Too many attempts. Try again in")
    seconds = re.search(r"Try again in (\d+) seconds", browser.find_element(By.ID, "sign-in-message").text)
    assert seconds and 0 < int(seconds.group(1)) <= 15 * 60

    # The database file disappears (the service never recreates it): 503, explained.
    for name in ["painline.db", "painline.db-wal", "painline.db-shm"]:
        path = server.folder / name
        if path.exists():
            path.rename(server.folder / f"moved-{name}")
    browser.get(server.base + "/dashboard/")
    visible(browser, "form#sign-in-form")
    browser.find_element(By.ID, "email").send_keys("maria@demo.painline.example")
    browser.find_element(By.ID, "password").send_keys(PASSWORD + Keys.ENTER)
    text_in(browser, "#sign-in-message", "The service is unavailable right now.")


def test_a_refused_access_token_is_refreshed_once_and_the_request_retried(server_900, browser):
    server = server_900
    sign_in(browser, server)
    patient_rows(browser)
    # A new signing key (a restart after a key rotation): the access token
    # in the page is refused, its refresh token is still good.
    server.restart(PAINLINE_JWT_SECRET="a-rotated-signing-key-rotated-signing-key")
    browser.find_element(By.LINK_TEXT, "Invitations").click()
    visible(browser, "form#invite-form")
    count = lambda path, status: server.metric(
        "painline_http_requests_total", endpoint=path, status=status)
    assert count("/v1/invitations", "401") == 1
    assert count("/v1/auth/refresh", "200") == 1
    assert count("/v1/invitations", "200") == 1
    assert browser.find_element(By.ID, "nav").get_attribute("hidden") is None
