/**
 * Redaction, the one module for "secrets never leave". Three layers:
 * - process-wide: every secret value the process decodes (ECR password, raw token, docker
 *   `auth`, bearer tokens) is remembered (`rememberSecret`), and every error message and Report
 *   passes through `scrubSecrets`/`scrubDeep` before it is logged or returned;
 * - per text from a Kubernetes API server (`scrub` in ./redact-text.ts, kept apart so the
 *   rotate-only bundle does not carry it): the known values of one apply (`secretValuesOf`)
 *   and anything shaped like a token are removed, and the length bounded — the API server
 *   echoes request bodies in some errors (e.g. `Invalid value: "..."`).
 * - configuration values that look like credentials (`looksLikeCredential`) are shown by their
 *   length only in a ConfigError (`showValue`, `withoutCredentials`).
 * The primary guarantee stays structural (Reports hold no secret fields); this catches a secret
 * echoed back by a remote error message.
 *
 * The list is bounded across warm invocations, but never at the expense of a live credential:
 * a value registered (or registered again) while a run is open (`openSecretScope`) is kept until
 * every run open at that time has ended; only values from earlier runs are evicted, oldest use
 * first. A run with more live secrets than the bound keeps them all.
 */
/** value → sequence number of its latest registration (Map order = order of latest use). */
const remembered = new Map<string, number>();
/** Open runs → the sequence number when each opened. */
const openScopes = new Map<number, number>();
let sequence = 0;
let scopeIds = 0;
/** Values from finished runs kept for late messages (bounded); live ones are never evicted. */
export const MAX_REMEMBERED = 256;
export const REDACTED = "[redacted]";

/**
 * Marks the start of a run (an invocation, a CLI command): every secret registered until the
 * returned function is called stays on the scrub list at least that long.
 */
export function openSecretScope(): () => void {
  const id = ++scopeIds;
  openScopes.set(id, sequence);
  return () => void openScopes.delete(id);
}

/** Registered before every open run began (so no open run registered it since): may be evicted. */
function evictable(registeredAt: number): boolean {
  for (const openedAt of openScopes.values()) if (registeredAt > openedAt) return false;
  return true;
}

function evict(): void {
  for (const [value, registeredAt] of remembered) {
    if (remembered.size <= MAX_REMEMBERED) return;
    // Oldest use first: the first live entry means every later one is live too.
    if (!evictable(registeredAt)) return;
    remembered.delete(value);
  }
}

export function rememberSecret(...values: Array<string | undefined>): void {
  for (const value of values) {
    if (value === undefined || value.length < 6) continue;
    remembered.delete(value);
    remembered.set(value, ++sequence);
  }
  evict();
}

/** How many values are on the scrub list (tests, diagnostics). */
export function rememberedCount(): number {
  return remembered.size;
}

export function scrubSecrets(text: string): string {
  let out = text;
  for (const value of remembered.keys()) {
    if (out.includes(value)) out = out.split(value).join(REDACTED);
  }
  return out;
}

/** Scrubs every string inside a JSON-serialisable value (returns a copy). */
export function scrubDeep<T>(value: T): T {
  if (remembered.size === 0) return value;
  return JSON.parse(scrubSecrets(JSON.stringify(value))) as T;
}

// ---- configuration values that look like credentials (never echoed by a ConfigError) ----

/**
 * Does a configuration value look like a credential (an access key, a token, a password pasted
 * into the wrong variable)? Such a value is never echoed in a configuration error: its length is.
 */
export function looksLikeCredential(value: string): boolean {
  if (/:\/\/[^/@\s]+:[^/@\s]*@/.test(value)) return true; // URL userinfo with a password
  if (/\b(AKIA|ASIA)[A-Z0-9]{16}\b/.test(value)) return true; // AWS access key id
  if (/k8s-aws-v1\.|\beyJ[A-Za-z0-9_-]{8,}/.test(value)) return true; // EKS bearer token, JWT / base64 JSON
  if (/\b(ghp|gho|ghs|github_pat|glpat|xox[abprs])[-_][A-Za-z0-9_-]{8,}/.test(value)) return true;
  // A long run of base64 characters mixing upper case, lower case and digits (an ECR token or
  // password, an AWS secret key). Host names, ARNs, UUIDs, selectors and dash-separated names
  // (`Prod-EU-Cluster-2024`) do not mix the three in 20 characters without a dot or a dash.
  for (const run of value.match(/[A-Za-z0-9+/=]{20,}/g) ?? []) {
    if (/[A-Z]/.test(run) && /[a-z]/.test(run) && /[0-9]/.test(run)) return true;
  }
  return false;
}

/** A value as a configuration error may show it: quoted, or only its length when it looks like a credential. */
export function showValue(value: string): string {
  return looksLikeCredential(value) ? `(a value of ${value.length} characters that looks like a credential, not shown)` : JSON.stringify(value);
}

/**
 * Replaces every quoted or bare part of a problem message that looks like a credential by its
 * length: the last line of defence for messages built from values (e.g. a registry parser's).
 */
export function withoutCredentials(message: string): string {
  if (!looksLikeCredential(message)) return message;
  return message
    .replace(/"((?:[^"\\]|\\.)*)"/g, (whole, inner: string) =>
      looksLikeCredential(inner) ? `(a value of ${inner.length} characters that looks like a credential, not shown)` : whole,
    )
    .replace(/[^\s"]+/g, (word) => (looksLikeCredential(word) ? `(a value of ${word.length} characters that looks like a credential, not shown)` : word));
}
