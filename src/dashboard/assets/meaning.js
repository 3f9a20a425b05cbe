// What the API's figures mean, in the words a therapist reads in ten
// seconds: why a patient needs attention, how the week moved, whether the
// last massage helped and for how long, when the next one is due. Every
// sentence is made here from numbers and codes; no stored text is parsed.

import { figure, percent, shortDay } from "./dom.js";

/** "1.5 points", "1 point". */
export function points(value) {
  const n = Math.abs(value);
  return `${figure(n)} ${Number(figure(n)) === 1 ? "point" : "points"}`;
}

function daysText(n) {
  return n === 1 ? "1 day" : `${n} days`;
}

/** The disability questionnaires, as a therapist names them. */
export const INSTRUMENTS = { odi: "Oswestry", rmdq: "Roland-Morris", peg: "PEG" };
const MATTERS = { odi: 10, rmdq: 5 };

/** One decimal, always, with a real minus sign. */
export function one(value) {
  const text = Math.abs(value).toFixed(1);
  return value < 0 && text !== "0.0" ? `−${text}` : text;
}

/** Why the patient is on the attention list: one sentence per alert. */
export function reasons(p) {
  const day = (date) => shortDay(date, p.today);
  const out = [];
  for (const alert of p.alerts) {
    switch (alert) {
      case "red_flag":
        out.push(`Reported a warning sign on ${day(p.red_flag_date)}: advise urgent medical review`);
        break;
      case "pain_rising":
        out.push(`↑ Pain up ${points(p.pain_change_7d)} this week (${one(p.avg_pain_prev_7d)} → ${one(p.avg_pain_7d)} out of 10)`);
        break;
      case "pain_high":
        out.push(`Pain at or above your limit of ${p.rules.pain_threshold} on the latest day`);
        break;
      case "pain_spike":
        out.push(`A spike: the latest day ${points(p.rules.spike_delta)} or more above last week's average of ${one(p.avg_pain_prev_7d)}`);
        break;
      case "function_worse": {
        const f = p.function_change;
        out.push(`Disability score worse: ${INSTRUMENTS[f.instrument]} ${figure(f.previous)} → ${figure(f.latest)} since ${day(f.previous_date)}`);
        break;
      }
      case "not_logging":
        out.push(p.days_since_last_entry === null ? "No entries yet" : `No entry for ${daysText(p.days_since_last_entry)}`);
        break;
      case "low_adherence":
        out.push(`Stretching plan: ${percent(p.programme_adherence_7d)} this week`);
        break;
      default:
        break;
    }
  }
  return out;
}

/** The 7-day change: an arrow, words and a tone (never colour alone).
 * Red only for a rise that matters (the `pain_rising` alert). */
export function weekChange(p) {
  const c = p.pain_change_7d;
  if (c === null || c === undefined) {
    return { arrow: "·", text: "Too few entries to compare weeks", tone: "none" };
  }
  if (Math.abs(c) < 0.5) {
    return { arrow: "→", text: `About the same as last week (${c >= 0 ? "+" : "−"}${figure(Math.abs(c))})`, tone: "same" };
  }
  if (c > 0) {
    if (p.alerts.includes("pain_rising")) return { arrow: "↑", text: `Pain up ${points(c)} this week`, tone: "worse" };
    if (c < 1) return { arrow: "↗", text: `Slightly up this week (+${figure(c)})`, tone: "same" };
    return { arrow: "↑", text: `Pain up ${points(c)} this week`, tone: "up" };
  }
  return { arrow: "↓", text: `Pain down ${points(c)} this week`, tone: "better" };
}

/** How much the last session helped, in words. */
export function reliefWords(session, today) {
  if (!session) return "No massage in the last year";
  const when = `Last massage ${shortDay(session.date, today)}`;
  const lasted = session.relief_duration_days;
  const forDays = lasted === null ? "" : session.relief_censored
    ? ` for ${daysText(lasted)} so far`
    : ` for ${daysText(lasted)}`;
  switch (session.relief_class) {
    case "substantial":
    case "moderate":
      return `${when}: helped, −${points(session.relief)}${forDays}`;
    case "minimal":
      return `${when}: helped a little, −${points(session.relief)}${forDays}`;
    case "none":
      return `${when}: no clear relief`;
    default: {
      const since = today ? Math.round((Date.parse(today) - Date.parse(session.date)) / 86_400_000) : 99;
      return since <= 3 ? `${when}: too soon to tell whether it helped` : `${when}: too few entries around it to tell`;
    }
  }
}

/** The next-session hint, or null. */
export function hintWords(next, today) {
  if (!next) return null;
  const lasts = `Relief usually lasts ${figure(next.typical_relief_days)} days`;
  const when = shortDay(next.suggested_date, today);
  if (next.suggested_date === today) return `${lasts}: next session due today`;
  if (next.due) return `${lasts}: next session was due around ${when}`;
  return `${lasts}: next session due around ${when}`;
}

const CLASSES = { substantial: "substantial", moderate: "moderate", minimal: "minimal", none: "none" };

/** One interval as a sentence. */
export function intervalSentence(i, today) {
  const when = `After the massage on ${shortDay(i.date, today)}`;
  if (i.baseline_pain === null) return `${when}: no entries in the week before, so no comparison.`;
  if (i.early_pain === null) {
    return i.days === 0
      ? `${when}: another session followed the same or the next day.`
      : `${when}: no entries in the 3 days after, so no comparison.`;
  }
  // The fall shown is that of the numbers shown, so the sentence adds up.
  const before = one(i.baseline_pain);
  const after = one(i.early_pain);
  const fall = one(Number(before) - Number(after));
  if (i.relief_class === "none") {
    return `${when} pain did not fall (${before} in the week before, ${after} in the 3 days after).`;
  }
  let lasted;
  const n = i.relief_duration_days;
  if (!i.relief_censored) {
    lasted = n === 0 ? " and was back to usual the next day" : ` and was back to usual after ${daysText(n)}`;
  } else if (i.open) {
    lasted = ` and has stayed below usual for ${daysText(n)} so far`;
  } else {
    lasted = ` and stayed below usual until the next session (${daysText(n)})`;
  }
  return `${when} pain fell from ${before} to ${after} (−${fall}, ${CLASSES[i.relief_class]})${lasted}.`;
}

/** A change in a disability score, in words. */
export function functionWords(f) {
  if (!f) return "No two disability questionnaires this year to compare";
  const sign = f.change > 0 ? "+" : f.change < 0 ? "−" : "±";
  const verdict = f.important
    ? `${f.change > 0 ? "worse" : "better"} by at least the ${MATTERS[f.instrument]} points that matter`
    : "a small change";
  return `${INSTRUMENTS[f.instrument]} ${figure(f.previous)} → ${figure(f.latest)} (${sign}${figure(Math.abs(f.change))}: ${verdict})`;
}

/** A correlation in words, with its value. */
export function correlationWords(r) {
  if (r === null || r === undefined) return "Not enough days to tell";
  const size = Math.abs(r);
  const value = `r = ${r < 0 ? "−" : ""}${Math.abs(r).toFixed(2)}`;
  if (size < 0.1) return `No visible link (${value})`;
  const strength = size < 0.3 ? "A weak link" : size < 0.5 ? "A moderate link" : "A strong link";
  const direction = r < 0 ? "more stretching, less pain the next day" : "more stretching, more pain the next day";
  return `${strength}: ${direction} (${value})`;
}

/** What each figure is, its unit, and how it is computed, in one line each. */
export const EXPLAIN = {
  pain_7d: "Mean daily pain, 0 (none) to 10 (worst), over the last 7 days including today. A day with several entries counts once, as their mean; days without entries are skipped.",
  change_7d: "This week's mean pain minus the week before's, in points of the 0–10 scale. Shown when both weeks have at least 3 days with entries. A rise of 2 points, or of 30 % and at least 1 point, is flagged as pain rising.",
  worst_7d: "The highest single rating (0–10) entered in the last 7 days: clinicians look at worst pain first.",
  stretching: "Days of the last 7 with at least one stretch session.",
  programme: "How far the home programme was followed over the last 7 days, 0 to 100 %: for each stretch, the days its sessions added up to its daily time, out of the days prescribed (its days a week, over the days the plan was in force); the plan's figure is the mean over its stretches. Below your floor (50 % unless you changed it), the patient is on the attention list.",
  last_entry: "The day of the latest pain entry, in the patient's calendar.",
  last_massage: "Relief is the mean pain of the 7 days before a session minus the mean of the 3 days after, in points. Substantial: at least 50 % of the pain before; moderate: at least 30 % or 2 points; minimal: any fall. These bands come from pain research (the IMMPACT recommendations for pain trials); around one massage they are guidance, not a verdict. Back to usual: the first day with pain at or above the week before's mean.",
  next_session: "The typical (middle) number of days relief lasted after the latest sessions that helped moderately or more, up to 6 of them over the last year (at least 3 needed), counted from the last session.",
  function: "The patient's disability questionnaires: the Oswestry Disability Index (0–100) or the Roland-Morris questionnaire (0–24); higher means more disabled. The latest two of the year are compared: a change of 10 Oswestry points or 5 Roland-Morris points is the smallest that matters.",
  mean_relief: "The mean relief of the sessions shown, in points of pain: the week before minus the 3 days after.",
  relief_lasts: "The mean number of days before pain was back at the level of the week before, over sessions where it came back before the next session.",
  responders: "Sessions whose relief was moderate or substantial, out of those with entries before and after.",
  slope: "The straight-line trend of daily pain over these 90 days, in points per week: negative means pain is falling.",
  correlation: "How a day's stretching goes with the next day's pain, from −1 to 1 (a correlation, Pearson's r). Negative: more stretching, less pain the next day; near 0: no visible link. It shows a link, not a cause.",
};
