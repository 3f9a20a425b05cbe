"""The reference dashboard in a real browser (headless Chromium), against
the real service on the demo data: the therapist's whole story (triage,
a patient's page in words, recording a session), staying signed in across a
reload, hostile text, an ended session, refusals, a cross-site form, and
phone-sized screens."""

import datetime
import re
import subprocess
import uuid

from selenium.common.exceptions import NoAlertPresentException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import Select, WebDriverWait

from conftest import BINARY, PASSWORD, THERAPIST

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
    """The patient cards, in the order shown: who needs attention first."""
    visible(driver, "ol.patients li.patient")
    return driver.find_elements(By.CSS_SELECTOR, "ol.patients li.patient")


def no_sideways_scrolling(driver, where):
    width = driver.execute_script("return document.documentElement.scrollWidth")
    viewport = driver.execute_script("return window.innerWidth")
    assert width <= viewport, f"{where}: the page is {width}px wide in {viewport}px"


def demo_patient(server, token, part):
    _, body = server.call("GET", "/v1/patients", token=token)
    return next(p for p in body["items"] if part in p["display_name"])


def test_the_therapists_whole_story(server, browser, screenshots):
    token = server.login(THERAPIST)
    _, listed = server.call("GET", "/v1/patients", token=token)
    sign_in(browser, server)
    rows = patient_rows(browser)
    assert len(rows) == 3
    # The attention order: the API's, attention patients in their own list.
    assert [r.get_attribute("data-patient") for r in rows] == [p["id"] for p in listed["items"]]
    attention = browser.find_elements(By.CSS_SELECTOR, "ol#attention li.patient")
    assert len(attention) == sum(p["needs_attention"] for p in listed["items"]) >= 2
    # Sam reported pain in both legs two days ago: first, saying so.
    assert "Sam" in rows[0].text
    why = rows[0].find_element(By.CSS_SELECTOR, ".why").text
    assert re.match(r"Reported a warning sign on [^:]+: advise urgent medical review", why), why
    # Alex's flare-up: next, with the reason in words and an arrow, not colour alone.
    assert "Alex" in rows[1].text
    why = rows[1].find_element(By.CSS_SELECTOR, ".why").text
    assert re.search(r"↑ Pain up \d+(\.\d)? points this week", why), why
    assert "Last massage" in rows[1].text and "helped" in rows[1].text
    # Maria: why she needs attention (function), her precaution as information.
    maria_row = next(r for r in rows if "Maria" in r.text)
    assert "Disability score worse: Oswestry 36 → 48" in maria_row.text
    assert maria_row.find_element(By.CSS_SELECTOR, ".chip").text == "Osteoporosis"
    # Sam's next session is due, said in words.
    sam_row = next(r for r in rows if "Sam" in r.text)
    assert re.search(r"Relief usually lasts [\d.]+ days: next session (was due around|due today)", sam_row.text), sam_row.text
    browser.save_screenshot(str(screenshots / "patients.png"))

    # The osteoporosis patient: the precaution is written, in the first screen.
    maria_row.find_element(By.CSS_SELECTOR, "a.patient-link").click()
    banner = visible(browser, "#precautions")
    assert "Osteoporosis" in banner.text
    top = browser.execute_script("return arguments[0].getBoundingClientRect().top", banner)
    assert 0 <= top < browser.execute_script("return window.innerHeight")
    chart = visible(browser, "img#chart")
    wait(browser, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", chart))
    assert "massage sessions" in chart.get_attribute("alt")
    # Each interval as a sentence.
    sentences = [li.text for li in browser.find_elements(By.CSS_SELECTOR, "ol#intervals li")]
    assert len(sentences) >= 5, sentences  # 90 days, a session every 14
    assert all(t.startswith("After the massage on ") for t in sentences), sentences
    assert any(re.search(r"pain fell from [\d.]+ to [\d.]+ \(−[\d.]+, (minimal|moderate|substantial)\)", t) for t in sentences)
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(screenshots / "patient.png"))
    # The correlation and the slope are details, not headlines.
    details = browser.find_element(By.ID, "trend-details")
    assert details.get_attribute("open") is None
    assert not browser.find_element(By.CSS_SELECTOR, "#trend-details [data-explains=correlation]").is_displayed()
    # Every figure's explanation opens, and says what it is.
    browser.find_element(By.CSS_SELECTOR, "#trend-details > summary").click()
    for box in browser.find_elements(By.CSS_SELECTOR, "details.explain"):
        browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", box)
        box.find_element(By.TAG_NAME, "summary").click()
        wait(browser, lambda d: box.get_attribute("open") is not None)
        text = box.find_element(By.TAG_NAME, "p")
        assert text.is_displayed() and len(text.text) > 40, box.get_attribute("data-explains")
    assert len(browser.find_elements(By.CSS_SELECTOR, "details.explain[open]")) >= 12
    # The sessions as recorded: who, technique, areas, pain before and after.
    first_session = visible(browser, "ol#sessions li")
    assert "recorded by you" in first_session.text and "Swedish" in first_session.text
    assert "Quadratus lumborum (left) 15 min" in first_session.text
    # Light pressure is offered first for osteoporosis.
    assert Select(browser.find_element(By.ID, "pressure")).first_selected_option.get_attribute("value") == "light"

    maria = demo_patient(server, token, "Maria")
    path = f"/v1/patients/{maria['id']}/massage-sessions?limit=1000"
    known = {s["id"] for s in server.call("GET", path, token=token)[1]["items"]}
    stored = len(known)

    assert console_errors(browser) == [], "the happy path logs no error"

    # Area minutes over the duration: the form's words, nothing stored.
    minutes = browser.find_element(By.CSS_SELECTOR, "#areas .area input[name=minutes]")
    minutes.clear()
    minutes.send_keys("50")
    browser.find_element(By.CSS_SELECTOR, "#session-form button[type=submit]").click()
    errors = visible(browser, "#session-errors")
    # The form came filled in from her last session: 15 minutes an area.
    assert "minutes add up to 80, more than the duration (60)" in errors.text, errors.text
    assert "duration_minutes" not in errors.text and "areas[" not in errors.text
    assert len(server.call("GET", path, token=token)[1]["items"]) == stored
    browser.save_screenshot(str(screenshots / "session-refused.png"))

    # Quadratus lumborum 20 min on the left, the rest as last time.
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
    assert new["technique"] == "swedish" and new["pressure"] == "light"
    assert [(a["muscle"], a["side"], a["minutes"]) for a in new["areas"]] == [
        ("quadratus_lumborum", "left", 20), ("quadratus_lumborum", "right", 15), ("gluteus_medius", "both", 15)]
    assert new["pain_before"] == 6
    assert new["recorded_by"]["role"] == "therapist"
    # Without a reload: in the sessions, the intervals, the card and the chart.
    listed = visible(browser, f"ol#sessions li[data-session='{new['id']}']")
    assert "Gentle work only" in listed.text and "Pain on the table: 6 before" in listed.text
    assert visible(browser, f"ol#intervals li[data-session='{new['id']}']")
    today_words = browser.execute_script(
        "const [y, m, d] = arguments[0].split('-').map(Number);"
        "return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(undefined, {day: 'numeric', month: 'short', timeZone: 'UTC'});",
        maria["today"])
    wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, "#last-massage dd").text.startswith(f"{today_words}:"))
    y, m, d = (int(x) for x in maria["today"].split("-"))
    long_today = f"{d} {['Jan','Feb','Mar','Apr','May','Jun','Jul','Aug','Sep','Oct','Nov','Dec'][m - 1]} {y}:"
    wait(browser, lambda d: long_today in d.find_element(By.ID, "chart").get_attribute("alt"))

    # And on the patient list, without a reload.
    browser.find_element(By.LINK_TEXT, "Patients").click()
    maria_row = next(r for r in patient_rows(browser) if "Maria" in r.text)
    assert f"Last massage {today_words}: too soon to tell" in maria_row.text, maria_row.text

    # Invitations: create one, see the code, withdraw it.
    browser.find_element(By.LINK_TEXT, "Invitations").click()
    visible(browser, "form#invite-form").find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    code = visible(browser, "#invitation-code").text
    assert re.fullmatch(r"[A-Z0-9]{5}-[A-Z0-9]{5}", code), code
    visible(browser, "#open-invitations li")
    assert len(server.call("GET", "/v1/invitations", token=token)[1]["items"]) == 1
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
    # Information, not an error; and no navigation on the sign-in screen.
    assert browser.find_element(By.ID, "sign-in-message").get_attribute("class") == "notice"
    assert not browser.find_element(By.ID, "nav").is_displayed()
    assert browser.execute_script("return window.localStorage.length + window.sessionStorage.length") == 0
    # The only error since is the browser's note of the refused request.
    others = [e for e in console_errors(browser) if "(Unprocessable Entity)" not in e["message"]]
    assert others == [], others


def test_a_reload_keeps_the_session_and_sign_out_ends_it(server, browser):
    token = server.login(THERAPIST)
    alex = demo_patient(server, token, "Alex")
    sign_in(browser, server)
    patient_rows(browser)
    browser.execute_script(f"location.hash = '#/patients/{alex['id']}'")
    visible(browser, "#patient-name")
    # A reload: still signed in, on the same page; the access token was in
    # memory only, the HttpOnly cookie brought the session back.
    browser.refresh()
    assert visible(browser, "#patient-name").text == alex["display_name"]
    assert browser.execute_script("return document.cookie") == "", "no script sees the refresh cookie"
    assert browser.find_element(By.ID, "nav").is_displayed()
    # Signed out: a reload asks to sign in again, and the cookie is spent.
    browser.find_element(By.ID, "sign-out").click()
    visible(browser, "form#sign-in-form")
    browser.refresh()
    visible(browser, "form#sign-in-form")
    assert not browser.find_element(By.ID, "nav").is_displayed()
    assert console_errors(browser) == []


def test_a_cross_site_form_posting_to_the_refresh_route_gets_nothing(server, browser, tmp_path):
    sign_in(browser, server)
    patient_rows(browser)
    refreshed = server.metric("painline_http_requests_total", endpoint="/v1/auth/refresh", status="200")
    # Another site's page, in the same browser, submits a form to the refresh route.
    page = tmp_path / "evil.html"
    page.write_text(f"""<!doctype html><form id=f method=post action="{server.base}/v1/auth/refresh">
        <input name=refresh_token value=x></form><script>document.getElementById('f').submit()</script>""")
    browser.get(page.as_uri())
    wait(browser, lambda d: d.current_url.startswith(server.base))
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "access_token" not in body and "unsupported_media_type" in body, body
    assert server.metric("painline_http_requests_total", endpoint="/v1/auth/refresh", status="200") == refreshed
    # The dashboard's own session is untouched.
    browser.get(server.base + "/dashboard/")
    patient_rows(browser)


def test_every_screen_fits_a_phone(server, phone, screenshots):
    phone.get(server.base + "/dashboard/")
    visible(phone, "form#sign-in-form")
    no_sideways_scrolling(phone, "sign-in")
    assert not phone.find_element(By.ID, "nav").is_displayed()
    sign_in(phone, server)
    patient_rows(phone)
    no_sideways_scrolling(phone, "patients")
    for screen, ready in [("#/alert-defaults", "form#defaults-form"), ("#/invitations", "form#invite-form")]:
        phone.execute_script(f"location.hash = '{screen}'")
        visible(phone, ready)
        no_sideways_scrolling(phone, screen)
    phone.execute_script("location.hash = '#/patients'")
    link = patient_rows(phone)[0].find_element(By.CSS_SELECTOR, "a.patient-link")
    link.click()
    visible(phone, "ol#intervals")
    chart = visible(phone, "img#chart")
    wait(phone, lambda d: d.execute_script("return arguments[0].complete && arguments[0].naturalWidth > 0", chart))
    assert chart.size["height"] >= 240, chart.size
    no_sideways_scrolling(phone, "patient")
    assert console_errors(phone) == []


def test_alert_defaults_apply_to_every_patient_and_overrides_are_named(server, browser):
    token = server.login(THERAPIST)
    sam = demo_patient(server, token, "Sam")
    sign_in(browser, server)
    patient_rows(browser)
    browser.find_element(By.LINK_TEXT, "Alert rules").click()
    field = visible(browser, "#defaults-form-pain_threshold")
    field.send_keys("3")
    browser.find_element(By.CSS_SELECTOR, "#defaults-form button[type=submit]").click()
    text_in(browser, "#defaults-form-status", "Defaults saved.")
    _, defaults = server.call("GET", "/v1/me/alert-defaults", token=token)
    assert defaults["pain_threshold"] == 3
    # Sam follows the default at once: on the attention list.
    browser.find_element(By.LINK_TEXT, "Patients").click()
    row = next(r for r in patient_rows(browser) if r.get_attribute("data-patient") == sam["id"])
    assert "Pain at or above your limit of 3" in row.text
    assert row.find_element(By.XPATH, "..").get_attribute("id") == "attention"
    # His page says where each rule comes from.
    browser.execute_script(f"location.hash = '#/patients/{sam['id']}'")
    rule = visible(browser, "#effective-rules li[data-rule=pain_threshold]")
    assert "at 3 or more" in rule.text and "(your default)" in rule.text
    field = browser.find_element(By.ID, "rules-form-pain_threshold")
    field.send_keys("9")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    text_in(browser, "#rules-form-status", "Alert rules saved.")
    rule = visible(browser, "#effective-rules li[data-rule=pain_threshold]")
    assert "at 9 or more" in rule.text and "(this patient only)" in rule.text
    # The stretching plan's floor, in percent; saving another rule keeps it.
    floor = browser.find_element(By.ID, "rules-form-adherence_floor")
    floor.send_keys("30")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    text_in(browser, "#effective-rules li[data-rule=adherence_floor]", "followed less than 30 % over 7 days")
    assert server.call("GET", f"/v1/patients/{sam['id']}/alert-settings", token=token)[1]["adherence_floor"] == 0.3
    field = browser.find_element(By.ID, "rules-form-not_logging_days")
    field.send_keys("10")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    text_in(browser, "#effective-rules li[data-rule=not_logging_days]", "after 10 days")
    kept = server.call("GET", f"/v1/patients/{sam['id']}/alert-settings", token=token)[1]
    assert (kept["adherence_floor"], kept["not_logging_days"]) == (0.3, 10)
    assert browser.find_element(By.ID, "rules-form-adherence_floor").get_attribute("value") == "30"
    # A refused value is named with the form's label.
    field = browser.find_element(By.ID, "rules-form-spike_delta")
    field.send_keys("40")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    error = visible(browser, "#rules-form .error")
    assert "Spike above last week by" in error.text and "spike_delta" not in error.text, error.text


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
    assert browser.find_elements(By.CSS_SELECTOR, "ol.patients img") == []
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
    # A new page load on an unknown patient: still signed in, and told why.
    browser.get(f"{server.base}/dashboard/#/patients/{uuid.uuid4()}")
    text_in(browser, "main .error", "not linked to you")


def test_a_phone_sized_screen_and_the_keyboard(server, phone, screenshots):
    sign_in(phone, server)
    patient_rows(phone)
    no_sideways_scrolling(phone, "patients")
    phone.save_screenshot(str(screenshots / "phone-patients.png"))
    # To the first patient with the keyboard alone.
    link = phone.find_element(By.CSS_SELECTOR, "a.patient-link")
    for _ in range(40):
        if phone.switch_to.active_element == link:
            break
        phone.switch_to.active_element.send_keys(Keys.TAB)
    assert phone.switch_to.active_element == link
    phone.switch_to.active_element.send_keys(Keys.ENTER)
    visible(phone, "#figures")
    visible(phone, "img#chart")
    no_sideways_scrolling(phone, "patient")
    phone.save_screenshot(str(screenshots / "phone-patient.png"))
    assert console_errors(phone) == []


def test_a_change_made_elsewhere_is_a_412_and_the_latest_rules_are_shown(server, browser):
    token = server.login(THERAPIST)
    alex = demo_patient(server, token, "Alex")
    sign_in(browser, server)
    patient_rows(browser)
    browser.execute_script(f"location.hash = '#/patients/{alex['id']}'")
    field = visible(browser, "#rules-form-spike_delta")
    # Another dashboard saves first.
    status, _ = server.call("PUT", f"/v1/patients/{alex['id']}/alert-settings", {"spike_delta": 5}, token)
    assert status == 200
    field.clear()
    field.send_keys("3")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    # Said beside the button that was pressed.
    text_in(browser, "#rules-form-status", "Someone changed this in the meantime")
    wait(browser, lambda d: d.find_element(By.ID, "rules-form-spike_delta").get_attribute("value") == "5")
    _, rules = server.call("GET", f"/v1/patients/{alex['id']}/alert-settings", token=token)
    assert rules["spike_delta"] == 5, "the other dashboard's change is kept"
    # Saving again, on the version now shown, works.
    field = browser.find_element(By.ID, "rules-form-spike_delta")
    field.clear()
    field.send_keys("3")
    browser.find_element(By.CSS_SELECTOR, "#rules-form button[type=submit]").click()
    text_in(browser, "#rules-form-status", "Alert rules saved.")
    assert server.call("GET", f"/v1/patients/{alex['id']}/alert-settings", token=token)[1]["spike_delta"] == 3


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
    # The metrics count an answer once it is sent whole: wait for the counts.
    wait(browser, lambda d: count("/v1/invitations", "200") == 1)
    assert count("/v1/invitations", "401") == 1
    wait(browser, lambda d: count("/v1/auth/refresh", "200") == 1)
    assert browser.find_element(By.ID, "nav").get_attribute("hidden") is None


def colleague(server, patient_token):
    """A second therapist, added the way a clinic adds one (the command
    line, then the mailed link), linked to the patient."""
    email = f"colleague-{uuid.uuid4().hex[:8]}@example.org"
    subprocess.run([BINARY, "therapist", "add", "--email", email, "--name", "Dr. Kim Colleague"],
                   cwd=server.folder, env=server.env, check=True, capture_output=True)
    token = server.link_in(email, "/reset-password").split("#token=")[1]
    status, _ = server.call("POST", "/v1/auth/password-reset/confirm", {"token": token, "new_password": PASSWORD})
    assert status == 200, status
    therapist = server.login(email)
    status, invitation = server.call("POST", "/v1/invitations", {}, therapist)
    assert status == 201, invitation
    status, _ = server.call("POST", "/v1/me/care-team", {"code": invitation["code"]}, patient_token)
    assert status == 201
    return therapist


def test_the_home_programme_in_words_and_edited(server, browser, screenshots):
    token = server.login(THERAPIST)
    sam = demo_patient(server, token, "Sam")
    sign_in(browser, server)
    rows = patient_rows(browser)
    # Sam hardly follows his plan: said on his row, as a share of the week.
    sam_row = next(r for r in rows if "Sam" in r.text)
    assert sam_row.get_attribute("class").endswith("attention")
    share = round(sam["programme_adherence_7d"] * 100)
    assert f"Stretching plan: {share} % this week" in sam_row.text, sam_row.text
    assert share < 35
    alex_row = next(r for r in rows if "Alex" in r.text)
    assert "Stretching plan" not in alex_row.text

    sam_row.find_element(By.CSS_SELECTOR, "a.patient-link").click()
    text_in(browser, "#plan-followed", f"{share} % followed")
    items = visible(browser, "#programme-items")
    assert "Figure-four piriformis stretch: 5 days a week, 1.5 min a day" in items.text, items.text
    assert "Standing side bend: 5 days a week, 2 min a day" in items.text
    assert "saved by Dr. Jordan Reyes (demo)" in browser.find_element(By.ID, "programme-source").text
    # The last 4 weeks in words, then as a table: the figure four never
    # long enough, the side bend on some days.
    said = browser.find_element(By.ID, "adherence-words").text
    assert re.search(r"Figure-four piriformis stretch: 0 of 5 days this week", said), said
    assert re.search(r"Standing side bend: \d of 5 days this week", said), said
    table = browser.find_element(By.ID, "adherence")
    headers = [th.text for th in table.find_elements(By.CSS_SELECTOR, "thead th")]
    assert headers[0] == "Stretch" and headers[-1].startswith("This week") and len(headers) == 5, headers
    figure_four = table.find_element(By.CSS_SELECTOR, "tbody tr[data-stretch]").text
    assert figure_four.startswith("Figure-four piriformis stretch") and "0 of 5" in figure_four, figure_four
    assert "Whole plan" in table.find_element(By.CSS_SELECTOR, "tr.total").text

    browser.execute_script("document.getElementById('programme').scrollIntoView({block: 'start'})")
    browser.save_screenshot(str(screenshots / "programme.png"))
    # The editor: a gentler plan, and one more stretch.
    editor = browser.find_element(By.ID, "programme-editor")
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", editor)
    editor.find_element(By.TAG_NAME, "summary").click()
    first = editor.find_elements(By.CSS_SELECTOR, ".item")[0]
    days = first.find_element(By.CSS_SELECTOR, "[name=days_per_week]")
    days.clear()
    days.send_keys("3")
    browser.find_element(By.ID, "add-stretch").click()
    added = editor.find_elements(By.CSS_SELECTOR, ".item")[-1]
    Select(added.find_element(By.CSS_SELECTOR, "[name=stretch_id]")).select_by_visible_text("Hip-flexor lunge")
    minutes = added.find_element(By.CSS_SELECTOR, "[name=minutes]")
    minutes.clear()
    minutes.send_keys("1.5")
    Select(added.find_element(By.CSS_SELECTOR, "[name=side]")).select_by_visible_text("Both")
    added.find_element(By.CSS_SELECTOR, "[name=reps]").send_keys("10")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", editor)
    browser.save_screenshot(str(screenshots / "programme-editor.png"))
    editor.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_in(browser, "#programme-status", "Programme saved.")
    _, stored = server.call("GET", f"/v1/patients/{sam['id']}/programme", token=token)
    assert stored["version"] == 2
    assert [i["days_per_week"] for i in stored["items"]] == [3, 5, 5]
    assert stored["items"][2]["seconds_per_day"] == 90 and stored["items"][2]["side"] == "both"
    assert stored["items"][2]["reps"] == 10
    assert stored["items"][0]["note"] == "Hold 45 seconds each side."
    text_in(browser, "#programme-items", "Hip-flexor lunge: 5 days a week, 1.5 min a day, 10 repetitions, both sides")

    # A refused value names the stretch and its field; nothing is stored.
    editor = browser.find_element(By.ID, "programme-editor")
    editor.find_element(By.TAG_NAME, "summary").click()
    days = editor.find_elements(By.CSS_SELECTOR, ".item")[1].find_element(By.CSS_SELECTOR, "[name=days_per_week]")
    days.clear()
    days.send_keys("8")
    editor.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    errors = visible(browser, "#programme-errors")
    assert "Stretch 2, days a week: must be between 1 and 7" in errors.text, errors.text
    assert days.get_attribute("aria-invalid") == "true"
    assert server.call("GET", f"/v1/patients/{sam['id']}/programme", token=token)[1]["version"] == 2

    # Ending it, asked once more; it stays in the history.
    browser.find_element(By.CSS_SELECTOR, "#programme-end button").click()
    browser.find_element(By.ID, "programme-end-confirm").click()
    visible(browser, "#programme-none")
    text_in(browser, "#programme-status", "Programme ended.")
    status, _ = server.call("GET", f"/v1/patients/{sam['id']}/programme", token=token)
    assert status == 404
    _, history = server.call("GET", f"/v1/patients/{sam['id']}/programme/history", token=token)
    assert [v["ended"] for v in history["items"]] == [True, False, False]
    # The only errors the browser saw: the refused value's 422.
    assert [e for e in console_errors(browser) if "status of 422" not in e["message"]] == []


def test_a_programme_a_colleague_changed_meanwhile_is_a_412_and_theirs_is_shown(server, browser):
    token = server.login(THERAPIST)
    alex = demo_patient(server, token, "Alex")
    kim = colleague(server, server.login("alex@demo.painline.example"))
    sign_in(browser, server)
    patient_rows(browser)
    browser.execute_script(f"location.hash = '#/patients/{alex['id']}'")
    editor = visible(browser, "#programme-editor")
    # Dr. Kim, on another dashboard, saves a change first.
    _, current = server.call("GET", f"/v1/patients/{alex['id']}/programme", token=kim)
    changed = {k: current[k] for k in ("starts_on", "items")}
    changed["note"] = "Added after today's session: keep the side bends gentle."
    status, saved = server.call("PUT", f"/v1/patients/{alex['id']}/programme", changed, kim)
    assert status == 200 and saved["version"] == current["version"] + 1
    # The form still holds the version read before; saving it is refused.
    browser.execute_script("arguments[0].scrollIntoView({block: 'start'})", editor)
    editor.find_element(By.TAG_NAME, "summary").click()
    days = editor.find_elements(By.CSS_SELECTOR, ".item")[0].find_element(By.CSS_SELECTOR, "[name=days_per_week]")
    days.clear()
    days.send_keys("4")
    editor.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_in(browser, "#programme-status", "Someone changed this in the meantime")
    text_in(browser, "#programme-source", "saved by Dr. Kim Colleague")
    assert "keep the side bends gentle" in browser.find_element(By.ID, "programme").text
    _, kept = server.call("GET", f"/v1/patients/{alex['id']}/programme", token=token)
    assert kept["version"] == saved["version"] and kept["items"][0]["days_per_week"] == 5
    # The editor stays open on the version now shown; saving it works
    # and keeps the colleague's note.
    editor = browser.find_element(By.ID, "programme-editor")
    assert editor.get_attribute("open") is not None
    days = editor.find_elements(By.CSS_SELECTOR, ".item")[0].find_element(By.CSS_SELECTOR, "[name=days_per_week]")
    days.clear()
    days.send_keys("4")
    editor.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    text_in(browser, "#programme-status", "Programme saved.")
    _, mine = server.call("GET", f"/v1/patients/{alex['id']}/programme", token=token)
    assert mine["version"] == saved["version"] + 1 and mine["items"][0]["days_per_week"] == 4
    assert mine["note"] == changed["note"]


def test_a_patient_who_reported_a_warning_sign_is_first_and_says_so(server, browser, screenshots):
    token = server.login(THERAPIST)
    status, body = server.call("POST", "/v1/auth/register", {
        "email": f"flag{uuid.uuid4().hex[:8]}@example.org", "password": "correct horse battery",
        "display_name": "Robin Flagged", "role": "patient"})
    assert status == 201, body
    patient = body["tokens"]["access_token"]
    _, invitation = server.call("POST", "/v1/invitations", {}, token)
    assert server.call("POST", "/v1/me/care-team", {"code": invitation["code"]}, patient)[0] == 201
    # Yesterday in UTC, the new account's zone: a day every patient has had.
    yesterday = (datetime.datetime.now(datetime.timezone.utc).date() - datetime.timedelta(days=1)).isoformat()
    status, entry = server.call("POST", "/v1/me/pain-entries", {
        "date": yesterday, "pain_level": 6, "red_flags": ["bilateral_leg_symptoms"]}, patient)
    assert status == 201 and entry["advice"] == "emergency", entry
    sign_in(browser, server)
    first = patient_rows(browser)[0]
    assert "Robin Flagged" in first.text
    why = first.find_element(By.CSS_SELECTOR, ".why").text
    assert re.search(r"^Reported a warning sign on \d{1,2} \w{3}|^Reported a warning sign on \w{3} \d{1,2}", why), why
    assert why.split(" · ")[0].endswith(": advise urgent medical review"), why
    # Their page: the sign in the public list's words, with the app's
    # advice and the patient's note, above the precautions.
    assert server.call("PUT", "/v1/me/conditions/osteoporosis", {"note": "T-score -2.6"}, patient)[0] == 201
    status, _ = server.call("POST", "/v1/me/pain-entries", {
        "date": yesterday, "pain_level": 5, "red_flags": ["fever", "constant_night_pain"],
        "notes": "Sweats at night"}, patient)
    assert status == 201
    browser.refresh()
    first = patient_rows(browser)[0]
    first.find_element(By.CSS_SELECTOR, "a.patient-link").click()
    signs = visible(browser, "#warning-signs")
    assert signs.find_element(By.TAG_NAME, "h2").text == "Warning signs reported: advise urgent medical review"
    items = [li.text for li in signs.find_elements(By.TAG_NAME, "li")]
    assert len(items) == 2, items
    # The same day: the entry calling for emergency care first.
    assert "Pain, numbness or weakness in both legs. Advice in the app: emergency care now." in items[0], items
    night = items[1]
    assert "Fever or feeling unwell with the back pain; Constant pain that does not ease at night or with rest" in night, night
    assert "Advice in the app: see a doctor soon." in night and "Their note: “Sweats at night”" in night, night
    # Above the precautions, and both in the first screen.
    banner = visible(browser, "#precautions")
    order = browser.execute_script(
        "return arguments[0].compareDocumentPosition(arguments[1]) & Node.DOCUMENT_POSITION_FOLLOWING", signs, banner)
    assert order, "the warning signs come before the precautions"
    browser.execute_script("window.scrollTo(0, 0)")
    browser.save_screenshot(str(screenshots / "warning-signs.png"))
    bottom = browser.execute_script("return arguments[0].getBoundingClientRect().bottom", banner)
    assert bottom < browser.execute_script("return window.innerHeight")
    # The day-by-day table names the day's signs, each once.
    cells = wait(browser, lambda d: d.find_elements(By.CSS_SELECTOR, f"#daily tr[data-date='{yesterday}'] td.flagged"))
    assert cells[0].get_attribute("textContent") == "Bilateral leg symptoms, Fever, Constant night pain"
    assert not console_errors(browser)
