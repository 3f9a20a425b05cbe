// The dashboard's shell: sign-in, the router (#/patients, #/patients/ID,
// #/invitations), notices, and what happens when a session ends.

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
  noticeBox.textContent = message;
  noticeBox.hidden = !message;
}

function showSignIn(message = "") {
  nav.hidden = true;
  notice("");
  fill(main, signInSection);
  signInMessage.textContent = message;
  signInMessage.hidden = !message;
  signInForm.elements.password.value = "";
  if (location.hash) history.replaceState(null, "", location.pathname);
  document.title = "Sign in · Painline";
  signInForm.elements.email.focus();
}

api.onSessionEnd = (message) => showSignIn(message);
api.onBusy = (busy) => document.body.classList.toggle("busy", busy);

async function route() {
  if (!api.signedIn) {
    showSignIn(signInMessage.hidden ? "" : signInMessage.textContent);
    return;
  }
  nav.hidden = false;
  const hash = location.hash || "#/patients";
  const patient = hash.match(/^#\/patients\/([0-9a-f-]{36})$/);
  main.setAttribute("aria-busy", "true");
  fill(main, h("p", { class: "loading" }, "Loading…"));
  try {
    if (patient) {
      await views.patient(api, main, patient[1], notice);
      document.title = `${document.getElementById("patient-name").textContent} · Painline`;
    } else if (hash === "#/invitations") {
      await views.invitations(api, main, notice);
      document.title = "Invitations · Painline";
    } else {
      await views.patients(api, main);
      document.title = "Patients · Painline";
    }
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus();
    }
  } catch (error) {
    if (!api.signedIn) return; // The session ended: the sign-in screen is up.
    const message = error instanceof ApiError ? error.message : "Something went wrong in the dashboard.";
    fill(main, h("h1", {}, "This could not be shown"), h("p", { class: "error", role: "alert" }, message),
      h("p", {}, h("a", { href: "#/patients" }, "Back to the patients"), " · ",
        h("button", { type: "button", class: "link", onclick: route }, "Try again")));
  } finally {
    main.removeAttribute("aria-busy");
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
  showSignIn("You are signed out.");
});

window.addEventListener("hashchange", () => {
  notice("");
  route();
});

showSignIn();
