// The screens: the patient list, a patient's page, the invitations. Each
// takes the API client and the element to draw into, and draws text only.

import { h, fill, figure, percent, day, instant, words } from "./dom.js";

const ALERTS = {
  pain_high: "Pain high",
  pain_spike: "Pain spike",
  not_logging: "Not logging",
  precaution: "Precaution",
};
const TECHNIQUES = ["deep_tissue", "swedish", "sports", "trigger_point", "myofascial_release", "other"];
const PRESSURES = ["light", "medium", "firm"];
const SIDES = ["left", "right", "both"];
const MUSCLES = [
  "quadratus_lumborum", "gluteus_medius", "gluteus_maximus", "piriformis", "erector_spinae",
  "multifidus", "latissimus_dorsi", "iliopsoas", "hamstrings", "tensor_fasciae_latae", "other",
];
/** Precautions in the order a therapist must read them. */
const URGENT = ["osteoporosis", "spinal_fracture", "anticoagulant_medication", "recent_surgery", "pregnancy", "cancer", "disc_herniation", "skin_condition", "other"];

function badges(alerts) {
  if (!alerts.length) return h("span", { class: "muted" }, "None");
  return alerts.map((a) => h("span", { class: `badge badge-${a}` }, ALERTS[a] || words(a)));
}

function table(caption, headers, rows, attrs = {}) {
  // Each cell is labelled with its column, for the stacked layout on phones.
  for (const row of rows) {
    [...row.children].forEach((cell, i) => cell.setAttribute("data-label", headers[i]));
  }
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": caption },
    h("table", attrs,
      h("caption", {}, caption),
      h("thead", {}, h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)))),
      h("tbody", {}, rows)));
}

/** The patient list: patients with alerts first, then in the API's order. */
export async function patients(api, main) {
  const items = await api.all("/patients?limit=200");
  const sorted = [...items.filter((p) => p.alerts.length), ...items.filter((p) => !p.alerts.length)];
  const rows = sorted.map((p) => h("tr", { "data-patient": p.id },
    h("th", { scope: "row" }, h("a", { href: `#/patients/${p.id}`, class: "patient-link" }, p.display_name)),
    h("td", {}, badges(p.alerts)),
    h("td", {}, p.precautions.length ? p.precautions.map(words).join(", ") : "–"),
    h("td", {}, day(p.last_entry_date)),
    h("td", { class: "num" }, figure(p.last_pain_level)),
    h("td", { class: "num" }, figure(p.avg_pain_7d)),
    h("td", { class: "num" }, figure(p.avg_pain_prev_7d)),
    h("td", { class: "num" }, `${p.stretch_days_7d} / 7`),
    h("td", {}, p.last_massage_date ? `${day(p.last_massage_date)} (${p.days_since_last_massage} d)` : "–")));
  fill(main,
    h("h1", {}, "Patients"),
    items.length
      ? table("Your patients, those with alerts first",
        ["Patient", "Alerts", "Precautions", "Last entry", "Last pain", "Pain, 7 days", "Previous 7 days", "Stretching", "Last massage"],
        rows, { id: "patients" })
      : h("p", {}, "No patients yet. Create an invitation code and give it to a patient."));
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

function intervalsTable(trends) {
  const rows = [...trends.intervals].reverse().map((i) => h("tr", { "data-date": i.date, "data-session": i.session_id },
    h("td", {}, day(i.date)),
    h("td", { class: "num" }, figure(i.baseline_pain)),
    h("td", { class: "num" }, figure(i.relief)),
    h("td", { class: "num" }, i.relief_duration_days === null ? "–"
      : i.relief_censored ? `≥ ${i.relief_duration_days} d` : `${i.relief_duration_days} d`),
    h("td", { class: "num" }, percent(i.stretch_adherence))));
  const s = trends.summary;
  return [
    h("p", { class: "summary" },
      `${s.sessions} sessions · mean relief ${figure(s.mean_relief)} · relief lasts ${figure(s.mean_relief_duration_days)} days on average · `
      + `pain trend ${figure(s.slope_per_week, 2)} a week · stretching vs next-day pain r = ${figure(s.stretch_pain_correlation, 2)}`),
    table("Between massage sessions, newest first", ["Session", "Baseline", "Relief", "Relief lasted", "Stretch adherence"], rows, { id: "intervals" }),
  ];
}

function dailyTable(daily) {
  const rows = [...daily.days].reverse().map((d) => h("tr", { "data-date": d.date },
    h("td", {}, day(d.date)),
    h("td", { class: "num" }, figure(d.mean_pain)),
    h("td", { class: "num" }, figure(d.max_pain)),
    h("td", { class: "num" }, d.entries),
    h("td", { class: "num" }, figure(d.stretch_minutes, 0)),
    h("td", { class: "num" }, d.massage_session_ids.length || "")));
  return table("Day by day, last 90 days", ["Day", "Mean pain", "Highest", "Entries", "Stretching (min)", "Massage"], rows, { id: "daily" });
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
  form.addEventListener("input", () => { key = crypto.randomUUID(); });
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
    } catch (error) {
      const fields = error.fields || [];
      fill(errors, h("p", {}, error.message),
        fields.length ? h("ul", {}, fields.map((f) => h("li", {}, `${words(f.field)}: ${f.message}`))) : null);
      for (const f of fields) invalid(form, areas, f.field);
      errors.hidden = false;
    } finally {
      button.disabled = false;
      button.textContent = "Record session";
    }
    // Stored: a failure to redraw is not a failure to save (saving again
    // would record the session twice).
    if (saved) await done(`Session of ${day(body.date)} recorded.`);
  });
  return h("section", { "aria-labelledby": "record-title", class: "card" },
    h("h2", { id: "record-title" }, "Record a massage session"), form);
}

function alertRules(api, pid, notice) {
  const section = h("section", { "aria-labelledby": "rules-title", class: "card" },
    h("h2", { id: "rules-title" }, "Alert rules for this patient"), h("p", {}, "Loading…"));
  const load = async () => {
    const { body, etag } = await api.json("GET", `/patients/${pid}/alert-settings`);
    const errors = h("div", { class: "error", role: "alert", hidden: true });
    const field = (name, label, value, min, max) => h("div", {},
      h("label", { for: name }, label),
      h("input", { id: name, name, type: "number", inputmode: "numeric", min, max, value: value ?? "" }));
    const form = h("form", { id: "rules-form", novalidate: true },
      h("div", { class: "grid" },
        field("pain_threshold", "Pain high at (0–10, empty: off)", body.pain_threshold, 0, 10),
        field("spike_delta", "Spike above the week before by", body.spike_delta, 1, 10),
        field("not_logging_days", "Not logging after (days)", body.not_logging_days, 1, 60)),
      errors, h("button", { type: "submit" }, "Save rules"));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const value = (n) => (form.elements[n].value === "" ? null : Number(form.elements[n].value));
      const button = form.querySelector("button[type=submit]");
      if (button.disabled) return;
      button.disabled = true;
      button.textContent = "Saving…";
      try {
        await api.json("PUT", `/patients/${pid}/alert-settings`, {
          body: { pain_threshold: value("pain_threshold"), spike_delta: value("spike_delta"), not_logging_days: value("not_logging_days") },
          ifMatch: etag,
        });
        notice("Alert rules saved.");
        await load();
      } catch (error) {
        if (error.status === 412) {
          notice(error.message);
          await load();
          return;
        }
        const fields = error.fields || [];
        fill(errors, error.message, fields.length ? h("ul", {}, fields.map((f) => h("li", {}, `${words(f.field)}: ${f.message}`))) : null);
        errors.hidden = false;
      } finally {
        button.disabled = false;
        button.textContent = "Save rules";
      }
    });
    fill(section, h("h2", { id: "rules-title" }, "Alert rules for this patient"), form);
  };
  return { section, load };
}

async function chart(api, pid) {
  const blob = await api.blob(`/patients/${pid}/trends/chart.svg`, "image/svg+xml");
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
  const img = h("img", { id: "chart", src: url, alt, width: 600, height: 330 });
  img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
  return img;
}

/** A patient's page: precautions first, then how pain moved between sessions. */
export async function patient(api, main, pid, notice) {
  const [overview, conditions] = await Promise.all([
    api.get(`/patients/${pid}`),
    api.get(`/patients/${pid}/conditions`),
  ]);
  const osteoporosis = conditions.items.some((c) => c.condition === "osteoporosis");
  const trendsArea = h("section", { "aria-labelledby": "trends-title" },
    h("h2", { id: "trends-title" }, "Between massage sessions"), h("p", { class: "loading" }, "Loading…"));
  const dailyArea = h("section", { "aria-labelledby": "daily-title" },
    h("h2", { id: "daily-title" }, "The last 90 days"), h("p", { class: "loading" }, "Loading…"));
  const rules = alertRules(api, pid, notice);
  const drawTrends = async () => {
    const [trends, daily, image] = await Promise.all([
      api.get(`/patients/${pid}/trends`),
      api.get(`/patients/${pid}/daily`),
      chart(api, pid),
    ]);
    fill(trendsArea, h("h2", { id: "trends-title" }, "Between massage sessions"),
      h("figure", { class: "chart" }, image), intervalsTable(trends));
    fill(dailyArea, h("h2", { id: "daily-title" }, "The last 90 days"), dailyTable(daily));
  };
  // A section that cannot be shown says so in place; the rest of the page
  // (the precautions first) stays.
  const guarded = async (draw, ...areas) => {
    try {
      await draw();
    } catch (error) {
      if (!api.signedIn) return;
      for (const area of areas) {
        const title = area.querySelector("h2");
        fill(area, title, h("p", { class: "error", role: "alert" }, error.message || "This part could not be shown."));
      }
    }
  };
  const recorded = async (message) => {
    notice(message);
    await guarded(drawTrends, trendsArea, dailyArea);
  };
  fill(main,
    h("p", {}, h("a", { href: "#/patients" }, "← All patients")),
    h("h1", { id: "patient-name" }, overview.display_name),
    precautionBanner(conditions.items),
    h("p", { class: "muted" }, `Linked since ${instant(overview.since, overview.timezone)} · dates in the patient's time zone (${overview.timezone}) · today there is ${day(overview.today)}`),
    h("dl", { class: "figures" },
      h("div", {}, h("dt", {}, "Alerts"), h("dd", {}, badges(overview.alerts))),
      h("div", {}, h("dt", {}, "Last entry"), h("dd", {}, day(overview.last_entry_date))),
      h("div", {}, h("dt", {}, "Last pain"), h("dd", {}, figure(overview.last_pain_level))),
      h("div", {}, h("dt", {}, "Pain, 7 days"), h("dd", {}, figure(overview.avg_pain_7d))),
      h("div", {}, h("dt", {}, "Previous 7 days"), h("dd", {}, figure(overview.avg_pain_prev_7d))),
      h("div", {}, h("dt", {}, "Stretching"), h("dd", {}, `${overview.stretch_days_7d} of 7 days`)),
      h("div", {}, h("dt", {}, "Last massage"), h("dd", {}, day(overview.last_massage_date)))),
    trendsArea,
    sessionForm(api, overview, osteoporosis, recorded),
    dailyArea,
    rules.section);
  await Promise.all([guarded(drawTrends, trendsArea, dailyArea), guarded(rules.load, rules.section)]);
}

/** Invitation codes: create one for a new patient, withdraw open ones. */
export async function invitations(api, main, notice) {
  const created = h("div", { id: "new-code", "aria-live": "polite" });
  const list = h("div", {});
  const errors = h("p", { class: "error", role: "alert", hidden: true });
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
      const fields = error.fields || [];
      fill(errors, error.message, fields.length ? ` (${fields.map((f) => `${words(f.field)}: ${f.message}`).join("; ")})` : "");
      errors.hidden = false;
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
