// The dashboard's only way to the server: the public AWS API, as any SDK calls it.
// Batch: rest-json POST /v1/<operation>; CloudWatch Logs: JSON 1.1 POST / with X-Amz-Target;
// the job state-change events: GET /batchemu/events (Server-Sent Events) read with fetch()
// so the request can be signed too. Every request carries a SigV4 Authorization header.
import { sign, uriEncode } from "./sigv4.js";

export const settings = {
  account: "", region: "", defaultAccount: "", defaultRegion: "",
  accessKeyId: "", secretAccessKey: "batchemu-dashboard", verifySignatures: false,
};

// jobId -> [{status, at}]: the state changes this page saw on the event stream.
export const seen = new Map();

export class ApiError extends Error {
  constructor(status, code, message) {
    super(`${code}: ${message}`);
    this.status = status; this.code = code;
  }
}

// The access key decides the account (a 12-digit key is taken as the account id), unless the
// user gave a key of their own in the settings.
export function credentials() {
  return { accessKeyId: settings.accessKeyId || settings.account, secretAccessKey: settings.secretAccessKey };
}

async function call(service, method, path, body, extraHeaders = {}, query = "") {
  const text = body === undefined ? "" : JSON.stringify(body);
  const auth = await sign({ method, path, query, body: text, service, region: settings.region, credentials: credentials() });
  const resp = await fetch(path + (query ? "?" + query : ""), {
    method, body: method === "GET" ? undefined : text, credentials: "omit", cache: "no-store",
    headers: { ...auth, ...extraHeaders },
  });
  const data = await resp.json().catch(() => ({}));
  if (!resp.ok) {
    const code = (data.__type || resp.headers.get("x-amzn-ErrorType") || `HTTP ${resp.status}`).split("#").pop().split(":")[0];
    throw new ApiError(resp.status, code, data.message || data.Message || resp.statusText);
  }
  return data;
}

// Batch: operation name as in the API reference (e.g. "DescribeJobs").
export function batch(operation, params = {}) {
  return call("batch", "POST", `/v1/${operation.toLowerCase()}`, params, { "Content-Type": "application/json" });
}

// CloudWatch Logs: e.g. logs("GetLogEvents", {...}).
export function logs(operation, params = {}) {
  return call("logs", "POST", "/", params, {
    "Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": `Logs_20140328.${operation}`,
  });
}

// Every page of a paged Batch list, up to `limit` items (never "everything" by default).
export async function pages(operation, params, listKey, limit) {
  const items = [];
  let token;
  do {
    const page = await batch(operation, { ...params, ...(token ? { nextToken: token } : {}) });
    items.push(...(page[listKey] || []));
    token = page.nextToken;
  } while (token && items.length < limit);
  return { items: items.slice(0, limit), more: Boolean(token) || items.length > limit };
}

// Follow the event stream of the selected account and region; calls onEvent(event) per job
// state change and onState("live" | "reconnecting" | "stopped", detail). Returns stop().
export function followEvents(onEvent, onState) {
  let stopped = false;
  let controller;
  async function run() {
    while (!stopped) {
      controller = new AbortController();
      try {
        const query = `account=${uriEncode(settings.account)}&region=${uriEncode(settings.region)}`;
        const path = "/batchemu/events";
        const auth = await sign({ method: "GET", path, query, service: "batch", region: settings.region, credentials: credentials() });
        const resp = await fetch(`${path}?${query}`, { headers: { ...auth, Accept: "text/event-stream" }, signal: controller.signal, cache: "no-store" });
        if (!resp.ok) {
          const data = await resp.json().catch(() => ({}));
          throw new Error(data.message || `HTTP ${resp.status}`);
        }
        onState("live");
        const reader = resp.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const block = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = block.split("\n").filter((l) => l.startsWith("data:")).map((l) => l.slice(5).trim()).join("\n");
            if (data) {
              try { onEvent(JSON.parse(data)); } catch (err) { console.error("event", err); }
            }
          }
        }
      } catch (err) {
        if (stopped) break;
        onState("reconnecting", err.message);
      }
      if (!stopped) await new Promise((r) => setTimeout(r, 2000));
    }
    onState("stopped");
  }
  run();
  return () => { stopped = true; if (controller) controller.abort(); };
}
