// Building the page without ever parsing data as HTML: every value that
// came from the API (names, notes) becomes a text node.

/** An element with attributes and children (strings become text nodes). */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on") && typeof value === "function") {
      el.addEventListener(name.slice(2), value);
    } else if (value === true) {
      el.setAttribute(name, "");
    } else {
      el.setAttribute(name, String(value));
    }
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

/** Replaces an element's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/** A figure for display: `–` when there is none. */
export function figure(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return typeof value === "number" ? Number(value.toFixed(digits)).toString() : String(value);
}

/** A share 0..1 as a percentage. */
export function percent(value) {
  return value === null || value === undefined ? "–" : `${Math.round(value * 100)} %`;
}

/** A calendar day (YYYY-MM-DD, already the patient's) as words. */
export function day(date) {
  if (!date) return "–";
  const [y, m, d] = date.split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(undefined, {
    day: "numeric", month: "short", year: "numeric", timeZone: "UTC",
  });
}

/** A recent calendar day, short: "25 Nov" (with the year when it is not `year`). */
export function shortDay(date, today) {
  if (!date) return "–";
  const [y, m, d] = date.split("-").map(Number);
  const sameYear = today && Number(today.slice(0, 4)) === y;
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(undefined, {
    day: "numeric", month: "short", year: sameYear ? undefined : "numeric", timeZone: "UTC",
  });
}

/** An instant in the patient's time zone. */
export function instant(iso, timeZone) {
  if (!iso) return "–";
  return new Date(iso).toLocaleString(undefined, {
    day: "numeric", month: "short", year: "numeric", hour: "2-digit", minute: "2-digit", timeZone,
  });
}

/** Words for a slug: `quadratus_lumborum` → `Quadratus lumborum`. */
export function words(slug) {
  const text = String(slug).replaceAll("_", " ");
  return text.charAt(0).toUpperCase() + text.slice(1);
}
