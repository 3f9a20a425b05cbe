// The dashboard's shell: sign-in (and resuming the session after a reload),
// the router (#/patients, #/patients/ID, #/alert-defaults, #/invitations),
// notices, and what happens when a session ends.

import { Api, ApiError } from "./api.js";
import { h, fill } from "./dom.js";
import * as views from "./views.js";

const api = new Api("/v1");
const main = document.getElementById("main");
const nav = document.getElementById("nav");
const noticeBox = document.getElementById("notice");
const signInSection = document.getElementById("sign-in");
const signInForm = document.getElementById("sign-in-form");
const signInMessage = document.getElementById("sign-in-message");

function notice(message) {
  // After the session ended, the sign-in screen's message is the one that counts.
  if (message && !api.signedIn) return;
  noticeBox.textContent = message;
  noticeBox.hidden = !message;
}

/** The sign-in screen, with a message: a refusal (`error`) or information. */
function showSignIn(message = "", kind = "error") {
  nav.hidden = true;
  notice("");
  fill(main, signInSection);
  signInMessage.textContent = message;
  signInMessage.className = kind;
  signInMessage.setAttribute("role", kind === "error" ? "alert" : "status");
  signInMessage.hidden = !message;
  signInForm.elements.password.value = "";
  if (location.hash) history.replaceState(null, "", location.pathname);
  document.title = "Sign in · Painline";
  signInForm.elements.email.focus();
}

api.onSessionEnd = (message) => showSignIn(message);
api.onBusy = (busy) => document.body.classList.toggle("busy", busy);

/** Bumped by every navigation: a slow screen that finishes after the user
 * moved on draws into its own, detached container and changes nothing. */
let navigation = 0;

async function route() {
  const mine = ++navigation;
  if (!api.signedIn) {
    showSignIn(signInMessage.hidden ? "" : signInMessage.textContent, signInMessage.className || "error");
    return;
  }
  nav.hidden = false;
  const hash = location.hash || "#/patients";
  const patient = hash.match(/^#\/patients\/([0-9a-f-]{36})$/);
  const view = h("div", { class: "view" }, h("p", { class: "loading" }, "Loading…"));
  fill(main, view);
  main.setAttribute("aria-busy", "true");
  try {
    let title;
    if (patient) {
      await views.patient(api, view, patient[1], notice);
      title = view.querySelector("#patient-name").textContent;
    } else if (hash === "#/invitations") {
      await views.invitations(api, view, notice);
      title = "Invitations";
    } else if (hash === "#/alert-defaults") {
      await views.alertDefaults(api, view);
      title = "Alert rules";
    } else {
      await views.patients(api, view);
      title = "Patients";
    }
    if (mine !== navigation) return;
    document.title = `${title} · Painline`;
    const heading = view.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  } catch (error) {
    if (!api.signedIn || mine !== navigation) return; // signed out, or moved on
    const message = error instanceof ApiError ? error.message : "Something went wrong in the dashboard.";
    fill(view, h("h1", {}, "This could not be shown"), h("p", { class: "error", role: "alert" }, message),
      h("p", {}, h("a", { href: "#/patients" }, "Back to the patients"), " · ",
        h("button", { type: "button", class: "link", onclick: route }, "Try again")));
  } finally {
    if (mine === navigation) main.removeAttribute("aria-busy");
  }
}

signInForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = signInForm.querySelector("button[type=submit]");
  button.disabled = true;
  button.textContent = "Signing in…";
  signInMessage.hidden = true;
  try {
    const user = await api.signIn(signInForm.elements.email.value.trim(), signInForm.elements.password.value);
    if (user.role !== "therapist") {
      await api.signOut();
      throw new ApiError(403, "This dashboard is for therapists. Patients use the Painline app.");
    }
    signInForm.elements.password.value = "";
    if (location.hash !== "#/patients") location.hash = "#/patients";
    else await route();
  } catch (error) {
    signInMessage.textContent = error.message;
    signInMessage.hidden = false;
  } finally {
    button.disabled = false;
    button.textContent = "Sign in";
  }
});

document.getElementById("sign-out").addEventListener("click", async () => {
  await api.signOut();
  showSignIn("You are signed out.", "notice");
});

window.addEventListener("hashchange", () => {
  notice("");
  route();
});

/** A reload: the session goes on when the cookie still holds one. */
async function start() {
  fill(main, h("p", { class: "loading" }, "Loading…"));
  let user = null;
  try {
    user = await api.resume();
  } catch {
    user = null;
  }
  if (user && user.role === "therapist") {
    await route();
  } else {
    if (user) await api.signOut();
    showSignIn();
  }
}

start();
