// Small DOM helpers: elements are built with h() (text, never HTML, so names and log lines
// from jobs cannot inject markup), times, status badges, the confirmation dialog, notices.

export const STATUSES = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING", "SUCCEEDED", "FAILED"];
// A symbol for each status, so a status reads without colour (the word is always shown too).
const SYMBOL = { SUBMITTED: "◌", PENDING: "…", RUNNABLE: "◷", SCHEDULED: "◷", STARTING: "▷", RUNNING: "▶", SUCCEEDED: "✓", FAILED: "✗" };

export function h(tag, attrs = {}, ...children) {
  const svg = Boolean(attrs.svg);
  const el = svg ? document.createElementNS("http://www.w3.org/2000/svg", tag) : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false || k === "svg") continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "class") el.setAttribute("class", v);
    else if (k in el && !svg && typeof v !== "string") el[k] = v;
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

export function s(tag, attrs = {}, ...children) {
  return h(tag, { ...attrs, svg: true }, ...children);
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

export function replace(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

export function time(ms) {
  if (!ms) return "—";
  const d = new Date(ms);
  const p = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export function timeEl(ms) {
  return ms ? h("time", { datetime: new Date(ms).toISOString() }, time(ms)) : "—";
}

export function duration(ms) {
  if (ms === undefined || ms === null || ms < 0) return "—";
  const sec = Math.round(ms / 1000);
  if (sec < 60) return `${sec} s`;
  if (sec < 3600) return `${Math.floor(sec / 60)} min ${sec % 60} s`;
  return `${Math.floor(sec / 3600)} h ${Math.floor((sec % 3600) / 60)} min`;
}

export function badge(status) {
  return h("span", { class: `status status-${(status || "").toLowerCase()}`, "data-status": status },
    h("span", { "aria-hidden": "true" }, (SYMBOL[status] || "•") + " "), status || "—");
}

export function nameFromArn(arn) {
  return arn ? String(arn).split("/").slice(1).join("/") || arn : "—";
}

// A polite announcement for screen readers and everyone (the status line under the header).
export function notice(text, kind = "info") {
  const el = document.getElementById("notice");
  replace(el, text);
  el.dataset.kind = kind;
}

// Ask before acting. `fields` are optional text inputs ({ name, label, value, required }).
// Resolves to the values entered, or null when the user kept things as they were.
export function confirmAction(title, message, fields = [], confirmLabel = "Confirm") {
  const dialog = document.getElementById("confirm");
  const inputs = fields.map((f) => h("input", { id: `confirm-${f.name}`, name: f.name, value: f.value || "", required: f.required, maxlength: "1024" }));
  const form = h("form", { method: "dialog" },
    h("h2", { id: "confirm-title" }, title),
    h("p", {}, message),
    fields.map((f, i) => h("p", {}, h("label", { for: `confirm-${f.name}` }, f.label), " ", inputs[i])),
    h("p", { class: "buttons" },
      h("button", { type: "submit", value: "yes", id: "confirm-yes" }, confirmLabel),
      " ",
      h("button", { type: "submit", value: "no", formnovalidate: true, id: "confirm-no" }, "Keep as is")));
  replace(dialog, form);
  dialog.setAttribute("aria-labelledby", "confirm-title");
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => {
      if (dialog.returnValue !== "yes") return resolve(null);
      resolve(Object.fromEntries(fields.map((f, i) => [f.name, inputs[i].value])));
    }, { once: true });
    dialog.returnValue = "";
    dialog.showModal();
    (inputs[0] || form.querySelector("#confirm-no")).focus();
  });
}

// A table with a caption, head and body; rows are arrays of cells (nodes or text).
export function table(caption, headers, rows, attrs = {}) {
  return h("table", attrs,
    h("caption", {}, caption),
    h("thead", {}, h("tr", {}, headers.map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rows.length ? rows.map((r) => (r instanceof Node ? r : h("tr", {}, r.map((c) => h("td", {}, c)))))
      : h("tr", {}, h("td", { colspan: String(headers.length), class: "empty" }, "None"))));
}

export function meter(value, max, label) {
  const v = Number(value) || 0;
  const m = Math.max(Number(max) || 0, v, 0);
  return h("span", { class: "meter" },
    h("meter", { min: "0", max: String(m || 1), value: String(v), "aria-label": label }),
    ` ${v} / ${max ?? "—"}`);
}
