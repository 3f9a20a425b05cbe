// The pages behind the links mails carry: /reset-password, /verify-email
// and /unsubscribe. The one-time token is in the link's fragment (#token=…),
// which the browser never sends to a server; it is taken out of the
// address bar at once, so it stays out of the history and of screenshots.

const token = new URLSearchParams(location.hash.slice(1)).get("token") || "";
history.replaceState(null, "", location.pathname);
// Another link opened in this tab changes only the fragment: start afresh.
window.addEventListener("hashchange", () => location.reload());

const outcome = document.getElementById("outcome");

function say(text, kind) {
  outcome.textContent = text;
  outcome.className = `narrow ${kind}`;
  outcome.hidden = false;
}

// What each page says about a link that no longer works.
const PAGE = location.pathname;
const SPENT = {
  "/reset-password": "This reset link was used already or has expired: each one works once, for a short time. Ask for a new one with \"Forgot your password?\" in the Painline app.",
  "/unsubscribe": "This link is unknown or was replaced by a newer mail. You can turn these mails off in Painline's settings at any time.",
  "/verify-email": "This confirmation link was used already or has expired. Ask for a new one in the Painline app.",
};
const EXPLAINED = {
  invalid_token: SPENT[PAGE] || SPENT["/verify-email"],
  email_taken: "That address belongs to another account now, so it cannot become yours.",
  too_many_attempts: "Too many attempts. Please wait a while and try again.",
};

// The code of the last refusal (invalid_token: the link is spent, so the
// page's form goes away).
let lastCode = null;

// What ended because this link proved the address for the first time, in
// words; "" when nothing but logins ended.
function endedNote(answer) {
  const ended = (answer && answer.ended) || {};
  const parts = [];
  const count = (n, one, many) => (n === 1 ? `1 ${one}` : `${n} ${many}`);
  if (ended.care_team_links > 0) parts.push(count(ended.care_team_links, "care-team link", "care-team links"));
  if (ended.invitations > 0) parts.push(count(ended.invitations, "open invitation", "open invitations"));
  if (parts.length === 0) return "";
  return ` This address had not been confirmed before, so what the account had set up before has ended (${parts.join(" and ")}): whoever set it up may not have been you. Join or invite your care team again in the app.`;
}

// The JSON answer of the last successful post.
let lastAnswer = null;

// POSTs `body`; answers null on success, else a sentence for the reader.
async function post(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(body),
    });
  } catch {
    return "The service cannot be reached. Check your connection and try again.";
  }
  if (response.ok) {
    lastAnswer = await response.json().catch(() => null);
    return null;
  }
  let problem = {};
  try {
    problem = await response.json();
  } catch {
    // not a problem document: the generic sentence below
  }
  lastCode = problem.code || null;
  const field = (problem.errors || []).find((e) => e.field === "new_password");
  if (field) return `The new password ${field.message}.`;
  return EXPLAINED[problem.code] || problem.detail || "Something went wrong. Please try again later.";
}

function busy(button, on) {
  button.disabled = on;
  document.body.classList.toggle("busy", on);
}

function resetPage() {
  const section = document.getElementById("reset");
  const form = document.getElementById("reset-form");
  const first = document.getElementById("new-password");
  const second = document.getElementById("repeat-password");
  section.hidden = false;
  first.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    second.setAttribute("aria-invalid", "false");
    if (first.value !== second.value) {
      second.setAttribute("aria-invalid", "true");
      say("The two passwords are not the same.", "error");
      second.focus();
      return;
    }
    const button = form.querySelector("button");
    busy(button, true);
    const failure = await post("/v1/auth/password-reset/confirm", {
      token,
      new_password: first.value,
    });
    busy(button, false);
    if (failure) {
      // A spent link cannot work with another password: no form to fill again.
      if (lastCode === "invalid_token") {
        form.reset();
        section.hidden = true;
      }
      say(failure, "error");
      return;
    }
    form.reset();
    section.hidden = true;
    say(`Your password is set, and every device was signed out. Sign in with the new password: patients in the Painline app, therapists on the dashboard.${endedNote(lastAnswer)}`, "notice");
  });
}

function verifyPage() {
  const section = document.getElementById("verify");
  const button = document.getElementById("verify-button");
  section.hidden = false;
  button.focus();
  // A click, not the page load: a mail scanner that opens links must not
  // confirm an address on the reader's behalf.
  button.addEventListener("click", async () => {
    busy(button, true);
    const failure = await post("/v1/auth/verify-email", { token });
    busy(button, false);
    if (failure) {
      if (lastCode === "invalid_token") section.hidden = true;
      say(failure, "error");
      return;
    }
    section.hidden = true;
    say(`Thank you: the address is confirmed.${endedNote(lastAnswer)}`, "notice");
  });
}

function unsubscribePage() {
  const section = document.getElementById("unsubscribe");
  const button = document.getElementById("unsubscribe-button");
  section.hidden = false;
  button.focus();
  button.addEventListener("click", async () => {
    busy(button, true);
    const failure = await post(`/v1/unsubscribe?token=${encodeURIComponent(token)}`, {});
    busy(button, false);
    if (failure) {
      if (lastCode === "invalid_token") section.hidden = true;
      say(failure, "error");
      return;
    }
    section.hidden = true;
    say("Done: these mails are off. You can turn them on again in Painline.", "notice");
  });
}

if (!token) {
  say("This page needs the whole link from the e-mail. Open the link again, or ask for a new one.", "error");
} else if (PAGE === "/reset-password") {
  resetPage();
} else if (PAGE === "/unsubscribe") {
  unsubscribePage();
} else {
  verifyPage();
}
