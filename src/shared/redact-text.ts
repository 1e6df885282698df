/**
 * Redaction of text from a Kubernetes API server (see ./redact.ts for the whole policy): the
 * known secret values of one apply and anything shaped like a token are removed, the length is
 * bounded. Loaded only with the Kubernetes code.
 */
/**
 * The marker ./redact.ts writes too (test/unit/kube-redact.test.ts checks they agree). Not
 * imported from there on purpose: the lazily loaded Kubernetes client chunks would then share a
 * chunk with the rotate path, which costs that path an extra file.
 */
const REDACTED = "[redacted]";

/** Runs of base64/base64url/hex-ish characters this long are treated as credential material. */
const LONG_TOKEN = /[A-Za-z0-9+/_\-.=]{32,}/g;
const BEARER = /\b(Bearer|Basic)\s+\S+/gi;
const MAX_MESSAGE = 400;

/** The strings that must never appear: passwords, `auth` values, the whole docker config. */
export function secretValuesOf(logins: ReadonlyArray<{ username: string; password: string }>, extra: readonly string[] = []): string[] {
  const values = new Set<string>();
  for (const login of logins) {
    if (login.password) values.add(login.password);
    const auth = Buffer.from(`${login.username}:${login.password}`, "utf8");
    values.add(auth.toString("base64"));
    values.add(auth.toString("base64").replace(/=+$/, ""));
    values.add(auth.toString("base64url"));
  }
  for (const value of extra) if (value) values.add(value);
  // Longest first, so a value containing another is replaced whole.
  return [...values].filter((v) => v.length >= 4).sort((a, b) => b.length - a.length);
}

/** An http(s) URL in running text: scheme, optional userinfo, host, then path/query up to a blank or quote. */
const URL_IN_TEXT = /\bhttps?:\/\/[^\s"'<>]+/gi;
const URL_PARTS = /^([a-z][a-z0-9+.-]*:\/\/)(?:([^@/?#]*)@)?([^/?#]*)([^?#]*)(\?[^#]*)?(#.*)?$/i;

/**
 * A URL with its credentials removed and its host kept: userinfo and every query value become
 * `[redacted]`, each path segment is scrubbed like text (a token in a path goes), the scheme and
 * `host[:port]` stay as written (an endpoint name is not a secret, and says where a call went).
 */
export function scrubUrl(url: string): string {
  const m = URL_PARTS.exec(url);
  if (!m) return scrubTokens(url);
  const [, scheme, userinfo, host, path, query] = m;
  const cleanPath = (path ?? "")
    .split("/")
    .map((segment) => scrubTokens(segment))
    .join("/");
  const cleanQuery = query
    ? `?${query
        .slice(1)
        .split("&")
        .map((pair) => (pair.includes("=") ? `${pair.slice(0, pair.indexOf("="))}=${REDACTED}` : pair))
        .join("&")}`
    : "";
  return `${scheme}${userinfo !== undefined ? `${REDACTED}@` : ""}${host}${cleanPath}${cleanQuery}`;
}

function scrubTokens(text: string): string {
  return text.replace(BEARER, `$1 ${REDACTED}`).replace(LONG_TOKEN, (m) => (looksLikeName(m) ? m : REDACTED));
}

/** Removes known secret values and anything shaped like a token (URLs keep their host); bounds the length. */
export function scrub(text: string, secrets: readonly string[] = []): string {
  let out = text;
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  // URLs first (their host kept), then the text between them.
  const parts: string[] = [];
  let last = 0;
  for (const m of out.matchAll(URL_IN_TEXT)) {
    parts.push(scrubTokens(out.slice(last, m.index)), scrubUrl(m[0]));
    last = m.index + m[0].length;
  }
  parts.push(scrubTokens(out.slice(last)));
  out = parts.join("");
  if (out.length > MAX_MESSAGE) out = `${out.slice(0, MAX_MESSAGE)}…`;
  return out;
}

/** DNS-ish names (e.g. `external-secrets.io`, long namespace names) are kept. */
function looksLikeName(s: string): boolean {
  return /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(s) && /[.-]/.test(s) && !/[+/=_]/.test(s);
}
