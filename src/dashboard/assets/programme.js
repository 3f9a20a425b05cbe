// The home stretching programme on a patient's page: what is prescribed,
// how far it was followed week by week (in words, then a compact table),
// and the editor, saved with If-Match so a colleague's change in between
// is never overwritten.

import { h, fill, day, percent, shortDay, words } from "./dom.js";

const SIDES = ["left", "right", "both"];
const WEEKS = 4;
const LABELS = {
  starts_on: "Starts on", ends_on: "Ends on", note: "Note for the patient", items: "Stretches",
  stretch_id: "stretch", days_per_week: "days a week", seconds_per_day: "minutes a day",
  sets: "sets", reps: "repetitions", side: "side",
};

/** "2 min", "1.5 min", "45 s". */
function duration(seconds) {
  if (seconds < 60) return `${seconds} s`;
  const minutes = seconds / 60;
  return `${Number.isInteger(minutes) ? minutes : minutes.toFixed(1)} min`;
}

/** A count of days that may be a fraction (a week the plan started in). */
function days(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** One item of the plan in words. */
function itemWords(item, name) {
  const parts = [`${item.days_per_week} day${item.days_per_week === 1 ? "" : "s"} a week`, `${duration(item.seconds_per_day)} a day`];
  if (item.sets) parts.push(`${item.sets} sets`);
  if (item.reps) parts.push(`${item.reps} repetitions`);
  if (item.side) parts.push(item.side === "both" ? "both sides" : `${item.side} side`);
  return [h("strong", {}, name), `: ${parts.join(", ")}`, item.note ? ` — ${item.note}` : ""];
}

/** Each item's last weeks in words: this week so far first, then the weeks before. */
function weekWords(programme, adherence, nameOf) {
  const current = adherence.weeks[adherence.weeks.length - 1];
  return programme.items.map((item) => {
    const rows = adherence.rows.filter((r) => r.stretch_id === item.stretch_id);
    const now = rows.find((r) => r.week_start === current.week_start);
    // Newest first: last week (when the stretch was in the plan then),
    // then the ones before it, each named by its week.
    const lastWeek = addDays(current.week_start, -7);
    const earlier = rows.filter((r) => r.week_start !== current.week_start).reverse();
    const of = (r) => `${r.met} of ${days(r.prescribed)}`;
    const sofar = partial(current) ? " so far" : "";
    const said = earlier.map((r) => (r.week_start === lastWeek ? `last week ${of(r)}` : `week of ${shortDay(r.week_start, adherence.today)} ${of(r)}`));
    return h("li", { "data-stretch": item.stretch_id },
      h("strong", {}, nameOf(item.stretch_id)),
      `: ${now ? now.met : 0} of ${item.days_per_week} days this week${sofar}`,
      said.length ? `; ${said.join("; ")}` : "");
  });
}

/** A week counted only up to the patient's today. */
function partial(week) {
  return week.counted_to < addDays(week.week_start, 6);
}

function addDays(date, n) {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + n);
  return d.toISOString().slice(0, 10);
}

/** Items by weeks: days met of days prescribed, and the whole plan's share. */
function adherenceTable(adherence, order, nameOf, today) {
  const weeks = adherence.weeks;
  const last = weeks.length - 1;
  const headers = ["Stretch", ...weeks.map((w, i) => (i < last ? `Week of ${shortDay(w.week_start, today)}` : partial(w) ? "This week so far" : "This week"))];
  const ids = [...order, ...adherence.rows.map((r) => r.stretch_id).filter((id) => !order.includes(id))]
    .filter((id, i, all) => all.indexOf(id) === i);
  // The week still running says what was done, not a fraction of a plan.
  const cell = (id, week) => {
    const row = adherence.rows.find((r) => r.stretch_id === id && r.week_start === week.week_start);
    if (!row) return h("td", { class: "num" }, "–");
    return h("td", { class: "num" }, partial(week) ? `${row.met} so far` : `${row.met} of ${days(row.prescribed)}`);
  };
  const rows = ids.map((id) => h("tr", { "data-stretch": id },
    h("th", { scope: "row" }, nameOf(id)), weeks.map((w) => cell(id, w))));
  rows.push(h("tr", { class: "total" }, h("th", { scope: "row" }, "Whole plan"),
    weeks.map((w) => h("td", { class: "num" }, partial(w) ? "" : percent(w.programme_adherence)))));
  const headRow = h("tr", {}, headers.map((x) => h("th", { scope: "col" }, x)));
  return h("div", { class: "table-wrap", tabindex: 0, role: "region", "aria-label": "Last 4 weeks" },
    h("table", { id: "adherence" },
      h("caption", {}, "Days the stretch was done for its daily time, of the days prescribed"),
      h("thead", {}, headRow),
      h("tbody", {}, rows)));
}

let itemCount = 0;
function itemRow(stretches, item) {
  const n = (itemCount += 1);
  const id = (name) => `item-${n}-${name}`;
  const known = stretches.some((s) => s.id === item.stretch_id);
  const options = known || !item.stretch_id ? stretches : [...stretches, { id: item.stretch_id, name: "A stretch no longer in the catalog" }];
  const field = (name, label, input) => h("div", {}, h("label", { for: id(name) }, label), input);
  const row = h("div", { class: "item", "data-item": n },
    field("stretch_id", "Stretch", h("select", { id: id("stretch_id"), name: "stretch_id" },
      options.map((s) => h("option", { value: s.id, selected: s.id === item.stretch_id }, s.name)))),
    field("days_per_week", "Days a week", h("input", { id: id("days_per_week"), name: "days_per_week", type: "number", inputmode: "numeric", min: 1, max: 7, step: 1, value: item.days_per_week })),
    field("minutes", "Minutes a day", h("input", { id: id("minutes"), name: "minutes", type: "number", inputmode: "decimal", min: 0.5, max: 60, step: 0.5, value: item.seconds_per_day / 60 })),
    field("sets", "Sets", h("input", { id: id("sets"), name: "sets", type: "number", inputmode: "numeric", min: 1, max: 20, step: 1, value: item.sets ?? "", placeholder: "Optional" })),
    field("reps", "Repetitions", h("input", { id: id("reps"), name: "reps", type: "number", inputmode: "numeric", min: 1, max: 100, step: 1, value: item.reps ?? "", placeholder: "Optional" })),
    field("side", "Side", h("select", { id: id("side"), name: "side" },
      h("option", { value: "", selected: !item.side }, "Not said"),
      SIDES.map((s) => h("option", { value: s, selected: s === item.side }, words(s))))),
    field("note", "Note", h("input", { id: id("note"), name: "note", maxlength: 500, value: item.note ?? "", placeholder: "Optional" })),
    h("button", { type: "button", class: "link remove", "aria-label": `Remove stretch ${n}`, onclick: () => row.remove() }, "Remove"));
  return row;
}

/** The form's words for a field error the API names (`items[1].stretch_id`). */
function errorLabel(field) {
  const item = field.match(/^items\[(\d+)\]\.(\w+)$/);
  if (item) return `Stretch ${Number(item[1]) + 1}, ${LABELS[item[2]] || "value"}`;
  return LABELS[field] || "This field";
}

/** The API's message in the form's units (the form asks minutes, the API seconds). */
function errorMessage(f) {
  if (/seconds_per_day$/.test(f.field)) return "must be between 10 seconds and 60 minutes";
  return f.message;
}

function itemBody(row) {
  const value = (name) => row.querySelector(`[name=${name}]`).value.trim();
  const whole = (name) => (value(name) === "" ? undefined : Number(value(name)));
  return {
    stretch_id: value("stretch_id"),
    days_per_week: whole("days_per_week"),
    seconds_per_day: value("minutes") === "" ? undefined : Math.round(Number(value("minutes")) * 60),
    sets: whole("sets"),
    reps: whole("reps"),
    side: value("side") || undefined,
    note: value("note") || undefined,
  };
}

/** The programme part of a patient's page; `load()` draws it (again). */
export function programmeSection(api, patient, notice) {
  const pid = patient.id;
  const section = h("section", { "aria-labelledby": "programme-title", class: "card", id: "programme" },
    h("h2", { id: "programme-title" }, "Home stretching programme"), h("p", { class: "loading" }, "Loading…"));
  /** Draws the section; `said` goes on its status line, and the editor
   * stays open when `editing` (after a refusal, to look again). */
  const load = async (said = "", editing = false) => {
    // The latest version of the history is the programme in force unless
    // it ended it (asked this way, a patient without one is not a 404).
    const [history, adherence, catalog] = await Promise.all([
      api.get(`/patients/${pid}/programme/history?limit=1`),
      api.get(`/patients/${pid}/programme/adherence?weeks=${WEEKS}`),
      api.get(`/patients/${pid}/stretches`),
    ]);
    const latest = history.items[0];
    const programme = latest && !latest.ended ? latest : null;
    const etag = latest ? `"${latest.version}"` : undefined;
    const names = new Map(catalog.items.map((s) => [s.id, s.name]));
    for (const r of adherence.rows) if (r.stretch_name && !names.has(r.stretch_id)) names.set(r.stretch_id, r.stretch_name);
    const nameOf = (id) => names.get(id) || "A stretch no longer in the catalog";
    const today = adherence.today;

    const status = h("p", { class: "status", role: "status", id: "programme-status" }, said);
    const errors = h("div", { class: "error", role: "alert", id: "programme-errors", hidden: true });
    const items = h("div", { id: "programme-items-editor" },
      (programme ? programme.items : [{ stretch_id: catalog.items[0]?.id, days_per_week: 5, seconds_per_day: 120 }])
        .map((item) => itemRow(catalog.items, item)));
    const form = h("form", { id: "programme-form", novalidate: true },
      h("div", { class: "grid" },
        h("div", {}, h("label", { for: "programme-starts_on" }, "Starts on"),
          h("input", { id: "programme-starts_on", name: "starts_on", type: "date", value: programme ? programme.starts_on : today })),
        h("div", {}, h("label", { for: "programme-ends_on" }, "Ends on (optional)"),
          h("input", { id: "programme-ends_on", name: "ends_on", type: "date", value: programme?.ends_on ?? "" }))),
      h("fieldset", {}, h("legend", {}, "Stretches"), items,
        h("button", { type: "button", class: "secondary", id: "add-stretch",
          onclick: () => items.append(itemRow(catalog.items, { stretch_id: catalog.items[0]?.id, days_per_week: 5, seconds_per_day: 60 })) }, "Add a stretch")),
      h("label", { for: "programme-note" }, "Note for the patient (optional)"),
      h("textarea", { id: "programme-note", name: "programme_note", rows: 2, maxlength: 2000 }, programme?.note ?? ""),
      errors,
      h("div", { class: "actions" }, h("button", { type: "submit" }, programme ? "Save changes" : "Prescribe")));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const button = form.querySelector("button[type=submit]");
      if (button.disabled) return;
      for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
      const body = {
        starts_on: form.elements.starts_on.value,
        ends_on: form.elements.ends_on.value || undefined,
        note: form.elements.programme_note.value.trim() || undefined,
        items: [...items.querySelectorAll(".item")].map(itemBody),
      };
      button.disabled = true;
      errors.hidden = true;
      status.textContent = "";
      try {
        // A first (or renewed) programme must not replace one a colleague
        // prescribed meanwhile: If-None-Match: * says so.
        await api.json("PUT", `/patients/${pid}/programme`, { body, ifMatch: etag, ifNoneMatch: programme ? undefined : "*" });
        await load("Programme saved. The patient's app shows it at its next sync.");
      } catch (error) {
        if (error.status === 412) {
          await load(error.message, true);
          return;
        }
        const fields = error.fields || [];
        fill(errors, h("p", {}, fields.length ? "Please check:" : error.message),
          fields.length ? h("ul", {}, fields.map((f) => h("li", {}, `${errorLabel(f.field)}: ${errorMessage(f)}`))) : null);
        errors.hidden = false;
        for (const f of fields) {
          const item = f.field.match(/^items\[(\d+)\]\.(\w+)$/);
          const name = item && item[2] === "seconds_per_day" ? "minutes" : item?.[2];
          const el = item
            ? items.querySelectorAll(".item")[Number(item[1])]?.querySelector(`[name=${name}]`)
            : form.elements[f.field === "note" ? "programme_note" : f.field];
          if (el && el.setAttribute) el.setAttribute("aria-invalid", "true");
        }
      } finally {
        button.disabled = false;
      }
    });

    const end = programme ? endButton(api, pid, etag, load, notice) : null;
    const plan = programme
      ? [
        h("p", { class: "muted", id: "programme-source" },
          `From ${day(programme.starts_on)}${programme.ends_on ? ` to ${day(programme.ends_on)}` : ""} · saved by ${programme.updated_by.display_name} on ${day(programme.saved_at.slice(0, 10))} · version ${programme.version}`),
        h("ul", { id: "programme-items", class: "plain" }, programme.items.map((item) => h("li", { "data-stretch": item.stretch_id }, itemWords(item, nameOf(item.stretch_id))))),
        programme.note ? h("p", { class: "note-text" }, programme.note) : null,
      ]
      : [h("p", { id: "programme-none" }, "No programme in force. Prescribe one below: the patient's app shows it and counts each day's stretching against it.")];
    const followed = adherence.rows.length
      ? [
        h("h3", {}, "Last 4 weeks"),
        programme ? h("ul", { id: "adherence-words", class: "plain" }, weekWords(programme, adherence, nameOf)) : null,
        adherenceTable(adherence, programme ? programme.items.map((i) => i.stretch_id) : [], nameOf, today),
        h("p", { class: "muted" }, "A day counts for a stretch when that day's sessions of it add up to its daily time. Each day is judged by the plan in force that day; this week counts up to the patient's today."),
      ]
      : [];
    fill(section, h("h2", { id: "programme-title" }, "Home stretching programme"), plan, followed, status,
      h("details", { class: "details", id: "programme-editor", open: !programme || editing },
        h("summary", {}, programme ? "Change the programme" : "Prescribe a programme"), form, end));
  };
  return { section, load };
}

/** Ending the programme: asked once more before it is done. */
function endButton(api, pid, etag, load, notice) {
  const box = h("div", { class: "actions", id: "programme-end" });
  const ask = h("button", { type: "button", class: "secondary", onclick: () => {
    fill(box, h("span", {}, "End the programme today? It stays in its history."),
      h("button", { type: "button", class: "secondary", id: "programme-end-confirm", onclick: async () => {
        try {
          await api.json("DELETE", `/patients/${pid}/programme`, { ifMatch: etag });
          await load("Programme ended.");
        } catch (error) {
          if (error.status === 412) {
            await load(error.message, true);
            return;
          }
          notice(error.message);
        }
      } }, "Yes, end it"),
      h("button", { type: "button", class: "link", onclick: () => fill(box, ask) }, "Keep it"));
  } }, "End the programme");
  return fill(box, ask);
}
