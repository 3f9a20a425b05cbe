// The screens: the patient list, a patient's page, the invitations. Each
// takes the API client and the element to draw into, and draws text only.

import { h, fill, figure, day, instant, percent, shortDay, words } from "./dom.js";
import { programmeSection } from "./programme.js";
import {
  EXPLAIN, correlationWords, functionWords, hintWords, intervalSentence, one, points, reasons, reliefWords, weekChange,
} from "./meaning.js";

const TECHNIQUES = ["deep_tissue", "swedish", "sports", "trigger_point", "myofascial_release", "other"];
const PRESSURES = ["light", "medium", "firm"];
const SIDES = ["left", "right", "both"];
const MUSCLES = [
  "quadratus_lumborum", "gluteus_medius", "gluteus_maximus", "piriformis", "erector_spinae",
  "multifidus", "latissimus_dorsi", "iliopsoas", "hamstrings", "tensor_fasciae_latae", "other",
];
/** Precautions in the order a therapist must read them. */
const URGENT = ["osteoporosis", "spinal_fracture", "anticoagulant_medication", "recent_surgery", "pregnancy", "cancer", "disc_herniation", "skin_condition", "other"];

/** A short explanation the reader can open: what it is, its unit, how it is computed. */
function explained(key) {
  return h("details", { class: "explain", "data-explains": key },
    h("summary", {}, h("span", { class: "visually-hidden" }, "What is this?"), h("span", { "aria-hidden": "true" }, "?")),
    h("p", {}, EXPLAIN[key]));
}

/** A figure card: its name, its value in words, and its explanation. */
function fact(label, value, key, attrs = {}) {
  return h("div", { class: "fact", ...attrs },
    h("dt", {}, label, key ? explained(key) : null),
    h("dd", {}, value));
}

function trendBadge(p) {
  const t = weekChange(p);
  return h("span", { class: `trend trend-${t.tone}` }, h("span", { class: "arrow", "aria-hidden": "true" }, t.arrow), " ", t.text);
}

function precautionChips(precautions) {
  if (!precautions.length) return null;
  return h("span", { class: "chips" }, precautions.map((c) => h("span", { class: "chip", title: "Precaution: check before treating" }, words(c))));
}

function patientCard(p) {
  const why = reasons(p);
  const hint = hintWords(p.next_session, p.today);
  // A rise that matters is the first reason already.
  const trend = p.alerts.includes("pain_rising") ? null : h("li", {}, trendBadge(p));
  return h("li", { class: `patient${p.needs_attention ? " attention" : ""}`, "data-patient": p.id },
    h("div", { class: "who" },
      h("a", { href: `#/patients/${p.id}`, class: "patient-link" }, p.display_name),
      precautionChips(p.precautions)),
    why.length ? h("p", { class: "why" }, why.join(" · ")) : null,
    h("ul", { class: "facts plain" },
      trend,
      h("li", { class: "relief" }, reliefWords(p.last_session, p.today)),
      hint ? h("li", { class: `hint${p.next_session.due ? " due" : ""}` }, hint) : null,
      h("li", { class: "muted" },
        p.last_entry_date ? `Last entry ${shortDay(p.last_entry_date, p.today)}` : "No entries yet",
        p.worst_pain_7d !== null ? ` · worst this week ${p.worst_pain_7d}/10` : "",
        ` · stretched ${p.stretch_days_7d} of 7 days`)));
}

/** The patient list as triage: who needs attention first, and why, in words. */
export async function patients(api, main) {
  const items = await api.all("/patients?limit=200");
  const attention = items.filter((p) => p.needs_attention);
  const others = items.filter((p) => !p.needs_attention);
  const group = (id, title, list, empty) => h("section", { "aria-labelledby": `${id}-title` },
    h("h2", { id: `${id}-title` }, `${title} (${list.length})`),
    list.length ? h("ol", { class: "patients plain", id }, list.map(patientCard)) : h("p", { class: "muted" }, empty));
  fill(main,
    h("h1", {}, "Patients"),
    items.length
      ? [group("attention", "Needs attention", attention, "Nobody needs attention now."),
        group("others", "Everyone else", others, "Everyone needs attention.")]
      : h("p", {}, "No patients yet. Create an invitation code and give it to a patient."),
    h("p", { class: "muted" }, "Who needs attention, and why, follows your alert rules: ",
      h("a", { href: "#/alert-defaults" }, "defaults for all my patients"), "."));
}

/** What the app told the patient to do, by an entry's `advice`. */
const ADVICE = { emergency: "emergency care now", see_doctor: "see a doctor soon" };

/** `date` (YYYY-MM-DD) minus `n` days. */
function daysBefore(date, n) {
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d - n)).toISOString().slice(0, 10);
}

/** The warning signs of the overview's 14 days, entry by entry, in the
 * words of the public list of red flags; null when there are none. Shown
 * first on the page: a massage therapist does not treat past them. */
async function warningSigns(api, pid, overview) {
  if (!overview.red_flag_date) return null;
  const section = (...content) => h("section", {
    id: "warning-signs", class: "warning-signs", "aria-labelledby": "warning-signs-title",
  }, h("h2", { id: "warning-signs-title" }, "Warning signs reported: advise urgent medical review"), ...content);
  try {
    const [signs, entries] = await Promise.all([
      api.get("/red-flags"),
      api.get(`/patients/${pid}/pain-entries?from=${daysBefore(overview.today, 13)}&to=${overview.today}&limit=1000`),
    ]);
    const described = new Map(signs.items.map((s) => [s.code, s.description]));
    // Newest day first; on one day, the entries that call for emergency care first.
    const urgency = (e) => (e.advice === "emergency" ? 0 : 1);
    const flagged = entries.items.filter((e) => (e.red_flags || []).length)
      .sort((a, b) => b.date.localeCompare(a.date) || urgency(a) - urgency(b));
    if (!flagged.length) return section(h("p", {}, `Reported on ${shortDay(overview.red_flag_date, overview.today)}.`));
    return section(h("ul", {}, flagged.map((e) => h("li", {},
      h("strong", {}, shortDay(e.date, overview.today)), ": ",
      e.red_flags.map((code) => described.get(code) || words(code)).join("; "),
      `. Advice in the app: ${ADVICE[e.advice] || "see a doctor"}.`,
      e.notes ? h("span", { class: "said" }, ` Their note: “${e.notes}”`) : null))));
  } catch (error) {
    if (!api.signedIn) throw error;
    return section(h("p", {}, `Reported on ${shortDay(overview.red_flag_date, overview.today)}; which sign could not be shown: ${error.message}`));
  }
}

function precautionBanner(conditions) {
  if (!conditions.length) return null;
  const ordered = [...conditions].sort((a, b) => URGENT.indexOf(a.condition) - URGENT.indexOf(b.condition));
  return h("section", { id: "precautions", class: "precautions", "aria-labelledby": "precautions-title" },
    h("h2", { id: "precautions-title" }, "Precautions: check before treating"),
    h("ul", {}, ordered.map((c) => h("li", {},
      h("strong", {}, words(c.condition)),
      c.note ? ` — ${c.note}` : ""))));
}

/** The overview's figures, each in words with its explanation. */
function glance(overview) {
  const hint = hintWords(overview.next_session, overview.today);
  const why = reasons(overview);
  return [
    why.length ? h("p", { class: "why", id: "why" }, why.join(" · ")) : null,
    h("dl", { class: "figures", id: "figures" },
      fact("This week", trendBadge(overview), "change_7d"),
      fact("Pain, 7 days", overview.avg_pain_7d === null ? "No entries this week"
        : `${one(overview.avg_pain_7d)} / 10 (week before ${overview.avg_pain_prev_7d === null ? "–" : one(overview.avg_pain_prev_7d)})`, "pain_7d"),
      fact("Worst, 7 days", overview.worst_pain_7d === null ? "–" : `${overview.worst_pain_7d} / 10`, "worst_7d"),
      fact("Stretching", `${overview.stretch_days_7d} of 7 days`, "stretching"),
      fact("Stretching plan", overview.programme_adherence_7d === null ? "No plan in force"
        : `${percent(overview.programme_adherence_7d)} followed, 7 days`, "programme", { id: "plan-followed" }),
      fact("Last entry", overview.last_entry_date ? day(overview.last_entry_date) : "No entries yet", "last_entry"),
      fact("Last massage", reliefWords(overview.last_session, overview.today).replace(/^Last massage /, ""), "last_massage", { id: "last-massage" }),
      fact("Next session", hint || "Not enough sessions that helped to say", "next_session"),
      fact("Disability score", functionWords(overview.function_change), "function")),
    overview.latest_note
      ? h("blockquote", { class: "note" }, h("p", {}, overview.latest_note.text),
        h("footer", {}, `The patient's note of ${day(overview.latest_note.date)}`))
      : null,
  ];
}

function intervalsPart(trends) {
  const s = trends.summary;
  const items = [...trends.intervals].reverse().map((i) => h("li", { "data-date": i.date, "data-session": i.session_id, class: `interval relief-${i.relief_class || "unknown"}` },
    intervalSentence(i, trends.to)));
  return [
    items.length ? h("ol", { id: "intervals", class: "sentences plain" }, items) : h("p", {}, "No massage sessions in these 90 days."),
    h("details", { class: "details", id: "trend-details" },
      h("summary", {}, "Details: averages, trend and stretching"),
      h("dl", { class: "figures" },
        fact("Mean relief", s.mean_relief === null ? "–" : `${figure(s.mean_relief)} points`, "mean_relief"),
        fact("Relief lasts", s.mean_relief_duration_days === null ? "–" : `${figure(s.mean_relief_duration_days)} days on average`, "relief_lasts"),
        fact("Sessions that helped", `${s.responders} of ${s.classified}`, "responders"),
        fact("Pain trend", s.slope_per_week === null ? "–" : `${s.slope_per_week > 0 ? "+" : s.slope_per_week < 0 ? "−" : ""}${Math.abs(s.slope_per_week).toFixed(2)} points a week`, "slope"),
        fact("Stretching and next-day pain", correlationWords(s.stretch_pain_correlation), "correlation"))),
  ];
}

function dailyTable(daily) {
  const rows = [...daily.days].reverse().map((d) => h("tr", { "data-date": d.date },
    h("td", {}, day(d.date)),
    h("td", { class: "num" }, figure(d.mean_pain)),
    h("td", { class: "num" }, figure(d.max_pain)),
    h("td", { class: "num" }, d.entries),
    h("td", { class: "num" }, figure(d.stretch_minutes, 0)),
    h("td", { class: "num" }, d.massage_session_ids.length === 0 ? "" : d.massage_session_ids.length === 1 ? "✓" : `✓ ×${d.massage_session_ids.length}`),
    h("td", { class: (d.red_flags || []).length ? "flagged" : null }, (d.red_flags || []).map(words).join(", "))));
  return table("Day by day, last 90 days", ["Day", "Mean pain", "Highest", "Entries", "Stretching (min)", "Massage", "Warning signs"], rows, { id: "daily" });
}

function table(caption, headers, rows, attrs = {}) {
  for (const row of rows) {
    [...row.children].forEach((cell, i) => cell.setAttribute("data-label", headers[i]));
  }
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h("table", attrs,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows)));
}

/** Who recorded a session, as the reader knows them. */
function recorder(session, me) {
  if (session.recorded_by.role === "patient") return "the patient";
  return me && session.recorded_by.id === me.id ? "you" : "another therapist";
}

function sessionsList(sessions, me) {
  if (!sessions.length) return h("p", {}, "No massage sessions recorded yet.");
  return h("ol", { id: "sessions", class: "sessions plain" }, sessions.map((s) => h("li", { "data-session": s.id },
    h("p", { class: "session-head" }, h("strong", {}, day(s.date)), ` · ${words(s.technique)}`,
      s.pressure ? `, ${s.pressure} pressure` : "", `, ${s.duration_minutes} min · recorded by ${recorder(s, me)}`),
    s.areas.length
      ? h("p", {}, s.areas.map((a) => `${words(a.muscle)} (${a.side}) ${a.minutes} min`).join(" · "))
      : null,
    s.pain_before !== null || s.pain_after !== null
      ? h("p", {}, `Pain on the table: ${figure(s.pain_before)} before, ${figure(s.pain_after)} after`)
      : null,
    s.notes ? h("p", { class: "note-text" }, s.notes) : null)));
}

/** Export buttons: each downloads the file the API names. */
function exportsPart(api, pid, notice) {
  const button = (format, label, accept) => h("button", { type: "button", class: "secondary", "data-format": format, onclick: async (event) => {
    const el = event.currentTarget;
    el.disabled = true;
    try {
      const { blob, name } = await api.download(`/patients/${pid}/export?format=${format}`, accept);
      const url = URL.createObjectURL(blob);
      const link = h("a", { href: url, download: name, hidden: true });
      document.body.append(link);
      link.click();
      link.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (error) {
      notice(error.message);
    } finally {
      el.disabled = false;
    }
  } }, label);
  return h("section", { "aria-labelledby": "exports-title", class: "card", id: "exports" },
    h("h2", { id: "exports-title" }, "Download"),
    h("p", { class: "muted" }, "The patient's data as a file. The patient can see in their access log that you downloaded it."),
    h("div", { class: "buttons" },
      button("csv", "Pain and stretching by day (CSV, for spreadsheets)", "text/csv"),
      button("fhir", "Health record (FHIR, for clinical systems)", "application/fhir+json"),
      button("json", "Everything (JSON)", "application/json")));
}

function select(name, values, chosen, label) {
  return h("select", { name, id: name, "aria-label": label },
    values.map((v) => h("option", { value: v, selected: v === chosen }, words(v))));
}

let areaCount = 0;
function areaRow(area) {
  const n = (areaCount += 1);
  const row = h("div", { class: "area" },
    h("label", { for: `muscle-${n}` }, "Muscle"),
    h("select", { id: `muscle-${n}`, name: "muscle" }, MUSCLES.map((m) => h("option", { value: m, selected: m === area.muscle }, words(m)))),
    h("label", { for: `side-${n}` }, "Side"),
    h("select", { id: `side-${n}`, name: "side" }, SIDES.map((s) => h("option", { value: s, selected: s === area.side }, words(s)))),
    h("label", { for: `minutes-${n}` }, "Minutes"),
    h("input", { id: `minutes-${n}`, name: "minutes", type: "number", inputmode: "numeric", min: 1, max: 300, value: area.minutes }),
    h("button", { type: "button", class: "link remove", "aria-label": `Remove area ${n}`, onclick: () => row.remove() }, "Remove"));
  return row;
}

/** Marks the input a field error names (`duration_minutes`, `areas[1].minutes`). */
function invalid(form, areas, field) {
  const area = field.match(/^areas\[(\d+)\]\.(\w+)$/);
  const el = area
    ? areas.querySelectorAll(".area")[Number(area[1])]?.querySelector(`[name=${area[2]}]`)
    : form.elements[field];
  if (el && el.setAttribute) el.setAttribute("aria-invalid", "true");
}

/** The form's own words for the API's field names. */
const SESSION_LABELS = {
  date: "Date", duration_minutes: "Duration", technique: "Technique", pressure: "Pressure",
  pain_before: "Pain before", pain_after: "Pain after", notes: "Notes", areas: "Areas worked",
};
const RULE_LABELS = { pain_threshold: "Pain high at", spike_delta: "Spike above last week by", not_logging_days: "Not logging after", adherence_floor: "Stretching plan followed below" };
const RULE_FIELDS = { pain_threshold: "Pain high at (0–10)", spike_delta: "Spike above last week by (points, 1–10)", not_logging_days: "Not logging after (days, 1–60)", adherence_floor: "Stretching plan followed below (%, 0–100)" };
const RULE_NAMES = { pain_threshold: "Pain high", spike_delta: "Spike", not_logging_days: "Not logging", adherence_floor: "Stretching plan" };
/** The adherence floor is a share 0..1 in the API, a percentage in the form. */
const toPercent = (share) => (share === null || share === undefined ? null : Math.round(share * 100));
const AREA_PARTS = { muscle: "muscle", side: "side", minutes: "minutes" };

function fieldLabel(field, labels) {
  const area = field.match(/^areas\[(\d+)\]\.(\w+)$/);
  if (area) return `Area ${Number(area[1]) + 1}, ${AREA_PARTS[area[2]] || "value"}`;
  return labels[field] || "This field";
}

/** A message with the API's field names replaced by the form's labels. */
function humanize(message, labels) {
  let text = String(message)
    // What the JSON reader says about a value of the wrong kind.
    .replace(/^invalid type: floating point `[^`]*`, expected (i64|u64|i32|u32).*$/, "must be a whole number")
    .replace(/^invalid type: .*$/, "has a value of the wrong kind")
    .replace(/^missing field `[^`]*`.*$/, "is required")
    // Dates as a therapist writes them.
    .replace(/\b(\d{4}-\d{2}-\d{2})\b/g, (iso) => day(iso));
  for (const key of Object.keys(labels).sort((a, b) => b.length - a.length)) {
    text = text.replaceAll(key, `the ${labels[key].toLowerCase()}`);
  }
  return text;
}

/** A refused form: what to fix, in the form's words. */
function showErrors(box, error, labels) {
  const fields = error.fields || [];
  const headline = fields.length ? "Please check:" : humanize(error.message, labels);
  fill(box, h("p", {}, headline),
    fields.length ? h("ul", {}, fields.map((f) => {
      // "missing field `x`" names its field in the message.
      const named = String(f.message).match(/missing field `([^`]+)`/);
      const field = named && labels[named[1]] ? named[1] : f.field;
      return h("li", {}, `${fieldLabel(field, labels)}: ${humanize(f.message, labels)}`);
    })) : null);
  box.hidden = false;
}

function number(form, name) {
  const raw = form.elements[name].value.trim();
  return raw === "" ? undefined : Number(raw);
}

function sessionForm(api, patient, osteoporosis, done) {
  const errors = h("div", { class: "error", role: "alert", id: "session-errors", hidden: true });
  const warning = h("p", { class: "warning", id: "pressure-warning", hidden: true },
    "Osteoporosis: deep tissue work and firm pressure are not advised for this patient.");
  const areas = h("div", { id: "areas" },
    areaRow({ muscle: "quadratus_lumborum", side: "left", minutes: 20 }),
    areaRow({ muscle: "quadratus_lumborum", side: "right", minutes: 20 }),
    areaRow({ muscle: "gluteus_medius", side: "both", minutes: 20 }));
  const form = h("form", { id: "session-form", novalidate: true },
    h("div", { class: "grid" },
      h("div", {}, h("label", { for: "date" }, "Date (patient's calendar)"),
        h("input", { id: "date", name: "date", type: "date", value: patient.today, required: true })),
      h("div", {}, h("label", { for: "duration_minutes" }, "Duration (minutes)"),
        h("input", { id: "duration_minutes", name: "duration_minutes", type: "number", inputmode: "numeric", min: 1, max: 300, value: 60, required: true })),
      h("div", {}, h("label", { for: "technique" }, "Technique"),
        select("technique", TECHNIQUES, osteoporosis ? "swedish" : "deep_tissue", "Technique")),
      h("div", {}, h("label", { for: "pressure" }, "Pressure"),
        select("pressure", PRESSURES, osteoporosis ? "light" : "firm", "Pressure")),
      h("div", {}, h("label", { for: "pain_before" }, "Pain before (0–10)"),
        h("input", { id: "pain_before", name: "pain_before", type: "number", inputmode: "numeric", min: 0, max: 10 })),
      h("div", {}, h("label", { for: "pain_after" }, "Pain after (0–10)"),
        h("input", { id: "pain_after", name: "pain_after", type: "number", inputmode: "numeric", min: 0, max: 10 }))),
    h("fieldset", {}, h("legend", {}, "Areas worked"), areas,
      h("button", { type: "button", class: "secondary", id: "add-area",
        onclick: () => areas.append(areaRow({ muscle: "piriformis", side: "both", minutes: 10 })) }, "Add area")),
    h("label", { for: "notes" }, "Notes"),
    h("textarea", { id: "notes", name: "notes", rows: 2, maxlength: 2000 }),
    warning, errors,
    h("button", { type: "submit" }, "Record session"));
  const checkPressure = () => {
    warning.hidden = !(osteoporosis && (form.elements.technique.value === "deep_tissue" || form.elements.pressure.value === "firm"));
  };
  form.addEventListener("change", checkPressure);
  checkPressure();
  // One key per filled-in form, so a retry after a lost answer is not a second session.
  let key = crypto.randomUUID();
  let touched = false;
  form.addEventListener("input", () => { key = crypto.randomUUID(); touched = true; });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
    const body = {
      date: form.elements.date.value,
      duration_minutes: number(form, "duration_minutes"),
      technique: form.elements.technique.value,
      pressure: form.elements.pressure.value,
      areas: [...areas.querySelectorAll(".area")].map((row) => ({
        muscle: row.querySelector("[name=muscle]").value,
        side: row.querySelector("[name=side]").value,
        minutes: Number(row.querySelector("[name=minutes]").value),
      })),
      pain_before: number(form, "pain_before"),
      pain_after: number(form, "pain_after"),
      notes: form.elements.notes.value.trim() || undefined,
    };
    button.disabled = true;
    button.textContent = "Saving…";
    let saved = false;
    try {
      await api.json("POST", `/patients/${patient.id}/massage-sessions`, { body, idempotencyKey: key });
      saved = true;
      errors.hidden = true;
      key = crypto.randomUUID();
      form.reset();
      touched = false;
    } catch (error) {
      showErrors(errors, error, SESSION_LABELS);
      for (const f of error.fields || []) invalid(form, areas, f.field);
    } finally {
      button.disabled = false;
      button.textContent = "Record session";
    }
    // Stored: a failure to redraw is not a failure to save (saving again
    // would record the session twice).
    if (saved) await done(`Session of ${day(body.date)} recorded.`);
  });
  const source = h("p", { class: "muted", id: "session-source" });
  /** Fills the form from the patient's latest session, unless the therapist started typing. */
  const prefill = (last) => {
    if (!last || touched) return;
    form.elements.technique.value = last.technique;
    if (last.pressure) form.elements.pressure.value = last.pressure;
    form.elements.duration_minutes.value = last.duration_minutes;
    if (last.areas.length) fill(areas, last.areas.map((a) => areaRow(a)));
    checkPressure();
    source.textContent = `Filled in from the last session (${day(last.date)}); change what differs.`;
  };
  const section = h("section", { "aria-labelledby": "record-title", class: "card" },
    h("h2", { id: "record-title" }, "Record a massage session"), source, form);
  return { section, prefill };
}

function ruleValue(field, value) {
  if (field === "pain_threshold") return value === null ? "off" : `at ${value} or more`;
  if (field === "spike_delta") return `${points(value)} above last week's average`;
  if (field === "adherence_floor") return value === 0 ? "off" : `followed less than ${toPercent(value)} % over 7 days`;
  return `after ${value} days without an entry`;
}

/** A rules form (four numbers; empty is `null`) with its status line. */
function rulesForm(id, values, placeholders, save, offOption = false) {
  const status = h("p", { class: "status", role: "status", id: `${id}-status` });
  const errors = h("div", { class: "error", role: "alert", hidden: true });
  const off = values.pain_threshold === "off";
  const shown = { ...values, adherence_floor: toPercent(values.adherence_floor) };
  const field = (name, min, max) => h("div", {},
    h("label", { for: `${id}-${name}` }, RULE_FIELDS[name]),
    h("input", { id: `${id}-${name}`, name, type: "number", inputmode: "numeric", min, max, step: 1,
      value: off && name === "pain_threshold" ? "" : shown[name] ?? "", placeholder: placeholders[name] }));
  const offBox = offOption
    ? h("label", { class: "check", for: `${id}-off` },
      h("input", { type: "checkbox", id: `${id}-off`, name: "off", checked: off }), " No \"pain high\" alert for this patient")
    : null;
  const button = h("button", { type: "submit" }, "Save rules");
  const form = h("form", { id, novalidate: true },
    h("div", { class: "grid" }, field("pain_threshold", 0, 10), field("spike_delta", 1, 10), field("not_logging_days", 1, 60), field("adherence_floor", 0, 100)),
    offBox, errors, h("div", { class: "actions" }, button, status));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (button.disabled) return;
    const value = (n) => (form.elements[n].value === "" ? null : Number(form.elements[n].value));
    button.disabled = true;
    button.textContent = "Saving…";
    errors.hidden = true;
    status.textContent = "";
    const threshold = offOption && form.elements.off.checked ? "off" : value("pain_threshold");
    const floor = value("adherence_floor");
    try {
      await save({
        pain_threshold: threshold, spike_delta: value("spike_delta"), not_logging_days: value("not_logging_days"),
        adherence_floor: floor === null ? null : floor / 100,
      }, status);
    } catch (error) {
      // The API's share, in the form's percent.
      for (const f of error.fields || []) {
        if (f.field === "adherence_floor") f.message = "must be between 0 and 100 %";
      }
      showErrors(errors, error, RULE_LABELS);
    } finally {
      button.disabled = false;
      button.textContent = "Save rules";
    }
  });
  return form;
}

function alertRules(api, pid) {
  const section = h("section", { "aria-labelledby": "rules-title", class: "card", id: "rules" },
    h("h2", { id: "rules-title" }, "Alert rules for this patient"), h("p", {}, "Loading…"));
  const load = async (said = "") => {
    const [{ body, etag }, defaults] = await Promise.all([
      api.json("GET", `/patients/${pid}/alert-settings`),
      api.get("/me/alert-defaults"),
    ]);
    const placeholders = {
      pain_threshold: defaults.pain_threshold === null ? "Default: off" : `Default: ${defaults.pain_threshold}`,
      spike_delta: `Default: ${defaults.spike_delta}`,
      not_logging_days: `Default: ${defaults.not_logging_days}`,
      adherence_floor: `Default: ${toPercent(defaults.adherence_floor)}`,
    };
    const form = rulesForm("rules-form", body, placeholders, async (values, status) => {
      try {
        await api.json("PUT", `/patients/${pid}/alert-settings`, { body: values, ifMatch: etag });
        await load("Alert rules saved.");
      } catch (error) {
        if (error.status !== 412) throw error;
        await load(error.message);
      }
      return status;
    }, true);
    fill(section, h("h2", { id: "rules-title" }, "Alert rules for this patient"),
      h("ul", { id: "effective-rules", class: "plain" }, Object.keys(RULE_NAMES).map((f) => h("li", { "data-rule": f },
        h("strong", {}, `${RULE_NAMES[f]}: `), ruleValue(f, body.effective[f]),
        h("span", { class: "source" }, body.inherited.includes(f) ? " (your default)" : " (this patient only)")))),
      h("p", { class: "muted" }, "Change a rule for this patient below; an empty field follows ",
        h("a", { href: "#/alert-defaults" }, "your defaults for all patients"), "."),
      form);
    form.querySelector(".status").textContent = said;
  };
  return { section, load };
}

/** Your alert rules for all your patients. */
export async function alertDefaults(api, main) {
  const section = h("section", { class: "card" });
  const load = async (said = "") => {
    const { body, etag } = await api.json("GET", "/me/alert-defaults");
    const form = rulesForm("defaults-form", body, { pain_threshold: "Off", spike_delta: "2", not_logging_days: "7", adherence_floor: "50" }, async (values) => {
      try {
        await api.json("PUT", "/me/alert-defaults", { body: values, ifMatch: etag });
        await load("Defaults saved. Patients without their own rules follow them now.");
      } catch (error) {
        if (error.status !== 412) throw error;
        await load(error.message);
      }
    });
    fill(section, h("h2", {}, "Rules"),
      h("p", {}, "An empty field takes the built-in default: no \"pain high\" alert, a spike of 2 points, 7 days without an entry, a stretching plan followed less than 50 %. ",
        "Two alerts need no rule: pain rising (up 2 points, or 30 % and at least 1 point, in a week) and a disability score worse by the amount that matters."),
      form);
    form.querySelector(".status").textContent = said;
  };
  fill(main, h("h1", {}, "Defaults for all my patients"),
    h("p", {}, "These rules decide who is on your attention list. A patient's own rules, on their page, override them field by field."),
    section);
  await load();
}

async function chart(api, pid) {
  const phone = window.matchMedia("(max-width: 480px)").matches;
  const blob = await api.blob(`/patients/${pid}/trends/chart.svg?layout=${phone ? "phone" : "wide"}`, "image/svg+xml");
  // The chart's own title and description become the image's text
  // alternative (read as text: parsing the SVG here would apply its styles
  // to no purpose, which the page's Content-Security-Policy forbids).
  const svg = await blob.text();
  const part = (id) => {
    const found = svg.match(new RegExp(`<(?:title|desc) id="${id}">([^<]*)</`));
    return found ? found[1].replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll("&quot;", "\"").replaceAll("&amp;", "&") : "";
  };
  const alt = [part("chart-title"), part("chart-desc")].filter(Boolean).join(". ");
  const url = URL.createObjectURL(blob);
  const img = h("img", { id: "chart", src: url, alt });
  img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  return img;
}

/** A patient's page: warning signs and precautions first, then what the
 * figures mean, the sessions, and the rules. */
export async function patient(api, main, pid, notice) {
  const [overview, conditions] = await Promise.all([
    api.get(`/patients/${pid}`),
    api.get(`/patients/${pid}/conditions`),
  ]);
  const signs = await warningSigns(api, pid, overview);
  const osteoporosis = conditions.items.some((c) => c.condition === "osteoporosis");
  const glanceArea = h("section", { "aria-label": "At a glance", id: "glance" }, glance(overview));
  const trendsArea = h("section", { "aria-labelledby": "trends-title" },
    h("h2", { id: "trends-title" }, "How pain moved between massage sessions"), h("p", { class: "loading" }, "Loading…"));
  const sessionsArea = h("section", { "aria-labelledby": "sessions-title" },
    h("h2", { id: "sessions-title" }, "Massage sessions"), h("p", { class: "loading" }, "Loading…"));
  const dailyArea = h("details", { class: "details", id: "daily-details" },
    h("summary", {}, "Day by day, the last 90 days"), h("p", { class: "loading" }, "Loading…"));
  const rules = alertRules(api, pid);
  const programme = programmeSection(api, overview, notice);
  const drawGlance = async () => {
    fill(glanceArea, glance(await api.get(`/patients/${pid}`)));
  };
  const drawTrends = async () => {
    const [trends, daily, image] = await Promise.all([
      api.get(`/patients/${pid}/trends`),
      api.get(`/patients/${pid}/daily`),
      chart(api, pid),
    ]);
    fill(trendsArea, h("h2", { id: "trends-title" }, "How pain moved between massage sessions"),
      h("figure", { class: "chart" }, image), intervalsPart(trends));
    fill(dailyArea, h("summary", {}, "Day by day, the last 90 days"), dailyTable(daily));
  };
  const record = sessionForm(api, overview, osteoporosis, async (message) => recorded(message));
  const drawSessions = async () => {
    const list = await api.get(`/patients/${pid}/massage-sessions?limit=8`);
    record.prefill(list.items[0]);
    fill(sessionsArea, h("h2", { id: "sessions-title" }, "Massage sessions"), sessionsList(list.items, api.user),
      list.next_cursor ? h("p", { class: "muted" }, "The latest 8; the downloads below hold every one.") : null);
  };
  // A section that cannot be shown says so in place; the rest of the page
  // (the precautions first) stays.
  const guarded = async (draw, ...areas) => {
    try {
      await draw();
    } catch (error) {
      if (!api.signedIn) return;
      for (const area of areas) {
        const title = area.querySelector("h2, summary");
        fill(area, title, h("p", { class: "error", role: "alert" }, error.message || "This part could not be shown."));
      }
    }
  };
  const recorded = async (message) => {
    notice(message);
    await Promise.all([
      guarded(drawGlance, glanceArea),
      guarded(drawTrends, trendsArea, dailyArea),
      guarded(drawSessions, sessionsArea),
    ]);
  };
  fill(main,
    h("p", {}, h("a", { href: "#/patients" }, "← All patients")),
    h("h1", { id: "patient-name" }, overview.display_name),
    signs,
    precautionBanner(conditions.items),
    h("p", { class: "muted" }, `Linked since ${day(overview.since.slice(0, 10))} · dates are the patient's (time zone ${overview.timezone}; their today: ${day(overview.today)})`),
    glanceArea,
    trendsArea,
    sessionsArea,
    record.section,
    programme.section,
    exportsPart(api, pid, notice),
    dailyArea,
    rules.section);
  await Promise.all([
    guarded(drawTrends, trendsArea, dailyArea),
    guarded(drawSessions, sessionsArea),
    guarded(rules.load, rules.section),
    guarded(programme.load, programme.section),
  ]);
}

/** Invitation codes: create one for a new patient, withdraw open ones. */
export async function invitations(api, main, notice) {
  const created = h("div", { id: "new-code", "aria-live": "polite" });
  const list = h("div", {});
  const errors = h("div", { class: "error", role: "alert", hidden: true });
  const draw = async () => {
    const { body } = await api.json("GET", "/invitations");
    fill(list, body.items.length
      ? h("ul", { id: "open-invitations", class: "plain" }, body.items.map((i) => h("li", {},
        `Created ${instant(i.created_at)}, valid until ${instant(i.expires_at)} `,
        h("button", { type: "button", class: "secondary", onclick: async () => {
          try {
            await api.json("DELETE", `/invitations/${i.id}`);
            notice("Invitation withdrawn.");
            await draw();
          } catch (error) {
            notice(error.message);
          }
        } }, "Withdraw"))))
      : h("p", {}, "No open invitations."));
  };
  const form = h("form", { id: "invite-form", novalidate: true },
    h("label", { for: "expires_in_hours" }, "Valid for (hours, 1–720)"),
    h("input", { id: "expires_in_hours", name: "expires_in_hours", type: "number", inputmode: "numeric", min: 1, max: 720, value: 72 }),
    errors,
    h("button", { type: "submit" }, "Create invitation code"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    if (button.disabled) return;
    button.disabled = true;
    button.textContent = "Creating…";
    errors.hidden = true;
    try {
      const hours = Number(form.elements.expires_in_hours.value);
      const { body } = await api.json("POST", "/invitations", { body: { expires_in_hours: hours } });
      fill(created, h("p", {}, "Give this code to your patient; it is shown only now and works once:"),
        h("p", { class: "code", id: "invitation-code" }, body.code),
        h("p", { class: "muted" }, `Valid until ${instant(body.expires_at)}.`));
      await draw();
    } catch (error) {
      showErrors(errors, error, { expires_in_hours: "Valid for" });
    } finally {
      button.disabled = false;
      button.textContent = "Create invitation code";
    }
  });
  fill(main, h("h1", {}, "Invitations"),
    h("section", { class: "card" }, h("h2", {}, "New invitation"), form, created),
    h("section", {}, h("h2", {}, "Open invitations"), list));
  await draw();
}
