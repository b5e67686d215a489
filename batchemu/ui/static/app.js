// The dashboard's entry: reads the server's defaults (config.json), keeps the account,
// region and credentials the user chose (sessionStorage), routes #/view?params to a view,
// and feeds live job state changes from the event stream to the view on screen.
import { settings, followEvents, seen } from "./api.js";
import { h, replace, notice } from "./dom.js";
import * as overview from "./overview.js";
import * as jobs from "./jobs.js";
import * as detail from "./detail.js";
import * as timeline from "./timeline.js";

const VIEWS = { overview, jobs, job: detail, timeline };
const REGIONS = ["us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-1", "ap-northeast-1"];
const SEEN_MAX = 5000; // jobs whose live state changes are remembered for their timelines
let current = null;
let stopEvents = null;

function route() {
  const [path, query] = location.hash.replace(/^#\/?/, "").split("?");
  const [name, ...rest] = path.split("/");
  const params = new URLSearchParams(query || "");
  if (rest.length) params.set("id", decodeURIComponent(rest.join("/")));
  return { name: VIEWS[name] ? name : "overview", params };
}

// `moved`: the user went to another view; focus moves to it, so a screen reader reads it next.
async function show(moved = false) {
  const { name, params } = route();
  const main = document.getElementById("main");
  for (const a of document.querySelectorAll("nav a")) {
    if (a.dataset.view === name || (name === "job" && a.dataset.view === "jobs")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  if (current && current.leave) current.leave();
  current = VIEWS[name];
  replace(main, h("p", { class: "loading" }, "Loading…"));
  try {
    await current.render(main, params);
    if (moved) main.focus({ preventScroll: true });
  } catch (err) {
    replace(main, h("p", { class: "error", role: "alert" }, `Could not load this view: ${err.message}`));
  }
}

function saveScope() {
  sessionStorage.setItem("batchemu-ui", JSON.stringify({
    account: settings.account, region: settings.region,
    accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey,
  }));
}

function restartEvents() {
  if (stopEvents) stopEvents();
  const live = document.getElementById("live");
  stopEvents = followEvents((event) => {
    const d = event.detail || {};
    if (d.jobId && event["detail-type"] === "Batch Job State Change") { // not "Batch Job Queue Blocked"
      const list = seen.get(d.jobId) || [];
      list.push({ status: d.status, at: Date.parse(event.time) || Date.now() });
      seen.delete(d.jobId);
      seen.set(d.jobId, list);
      if (seen.size > SEEN_MAX) seen.delete(seen.keys().next().value); // forget the least recent job

    }
    if (current && current.onEvent) current.onEvent(event);
  }, (state, why) => {
    live.dataset.state = state;
    replace(live, state === "live" ? `Live updates: on (account ${settings.account}, ${settings.region})`
      : state === "reconnecting" ? `Live updates: reconnecting (${why || "connection lost"})` : "Live updates: off");
  });
}

async function start() {
  const config = await fetch("config.json", { cache: "no-store" }).then((r) => r.json());
  Object.assign(settings, { defaultAccount: config.defaultAccount, defaultRegion: config.defaultRegion,
    verifySignatures: config.verifySignatures, account: config.defaultAccount, region: config.defaultRegion });
  try { Object.assign(settings, JSON.parse(sessionStorage.getItem("batchemu-ui") || "{}")); } catch { /* ignore */ }
  const account = document.getElementById("account");
  const region = document.getElementById("region");
  account.value = settings.account;
  region.value = settings.region;
  replace(document.getElementById("accounts"), h("option", { value: settings.defaultAccount }, "default account"));
  replace(document.getElementById("regions"), [...new Set([settings.defaultRegion, ...REGIONS])].map((r) => h("option", { value: r })));
  document.getElementById("scope").addEventListener("submit", (e) => {
    e.preventDefault();
    settings.account = account.value.trim();
    settings.region = region.value.trim();
    saveScope();
    notice(`Showing account ${settings.account} in ${settings.region}.`);
    restartEvents();
    show();
  });
  const dialog = document.getElementById("settings");
  document.getElementById("open-settings").addEventListener("click", () => {
    document.getElementById("access-key").value = settings.accessKeyId;
    document.getElementById("secret-key").value = settings.secretAccessKey;
    dialog.showModal();
  });
  dialog.addEventListener("close", () => {
    if (dialog.returnValue !== "save") return;
    settings.accessKeyId = document.getElementById("access-key").value.trim();
    settings.secretAccessKey = document.getElementById("secret-key").value || "batchemu-dashboard";
    saveScope();
    notice("Credentials saved for this browser tab.");
    restartEvents();
    show();
  });
  if (settings.verifySignatures && !sessionStorage.getItem("batchemu-ui")) {
    notice("This server verifies signatures: enter a key and secret it accepts under Credentials…", "warning");
  }
  window.addEventListener("hashchange", () => show(true));
  restartEvents();
  await show();
}

start().catch((err) => notice(`The dashboard could not start: ${err.message}`, "error"));
