// AWS Signature Version 4 for the dashboard's requests, with the browser's WebCrypto.
// The server reads the account from the access key and the region from the credential scope;
// with --verify-signatures it recomputes this signature (batchemu/wire/auth.py), so the page
// works in both modes. Signs the host and x-amz-date headers and the body's SHA-256.

const enc = new TextEncoder();

function hex(buffer) {
  return Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function sha256Hex(text) {
  return hex(await crypto.subtle.digest("SHA-256", enc.encode(text)));
}

async function hmac(key, text) {
  const raw = typeof key === "string" ? enc.encode(key) : key;
  const k = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return crypto.subtle.sign("HMAC", k, enc.encode(text));
}

// RFC 3986 encoding, as SigV4 wants for query keys and values.
export function uriEncode(text) {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

export function amzDate(now = new Date()) {
  return now.toISOString().replace(/[-:]/g, "").replace(/\.\d{3}/, "");
}

// Headers (Authorization, X-Amz-Date) for `method path?query` with `body` (a string),
// signed for `service` in `region` with { accessKeyId, secretAccessKey }.
export async function sign({ method, path, query = "", body = "", service, region, credentials, host = location.host }) {
  const date = amzDate();
  const day = date.slice(0, 8);
  const canonicalQuery = query
    ? query.split("&").filter(Boolean).map((p) => p.split("=")).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : (a[1] || "") < (b[1] || "") ? -1 : 1))
        .map(([k, v]) => `${k}=${v || ""}`).join("&")
    : "";
  const signedHeaders = "host;x-amz-date";
  const canonical = [method, path, canonicalQuery, `host:${host}\nx-amz-date:${date}\n`, signedHeaders,
    await sha256Hex(body)].join("\n");
  const scope = `${day}/${region}/${service}/aws4_request`;
  const toSign = ["AWS4-HMAC-SHA256", date, scope, await sha256Hex(canonical)].join("\n");
  let key = await hmac("AWS4" + credentials.secretAccessKey, day);
  for (const part of [region, service, "aws4_request"]) key = await hmac(key, part);
  const signature = hex(await hmac(key, toSign));
  return {
    "X-Amz-Date": date,
    Authorization: `AWS4-HMAC-SHA256 Credential=${credentials.accessKeyId}/${scope}, ` +
      `SignedHeaders=${signedHeaders}, Signature=${signature}`,
  };
}
