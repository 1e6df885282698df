/**
 * Redaction, the one module for "secrets never leave". Two layers:
 * - process-wide: every secret value the process decodes (ECR password, raw token, docker
 *   `auth`, bearer tokens) is remembered (`rememberSecret`), and every error message and Report
 *   passes through `scrubSecrets`/`scrubDeep` before it is logged or returned;
 * - per text from a Kubernetes API server (`scrub` in ./redact-text.ts, kept apart so the
 *   rotate-only bundle does not carry it): the known values of one apply (`secretValuesOf`)
 *   and anything shaped like a token are removed, and the length bounded — the API server
 *   echoes request bodies in some errors (e.g. `Invalid value: "..."`).
 * The primary guarantee stays structural (Reports hold no secret fields); this catches a secret
 * echoed back by a remote error message.
 */
const remembered = new Set<string>();
const MAX_REMEMBERED = 256;
export const REDACTED = "[redacted]";

export function rememberSecret(...values: Array<string | undefined>): void {
  for (const value of values) {
    if (value === undefined || value.length < 6) continue;
    if (remembered.size >= MAX_REMEMBERED) remembered.delete(remembered.values().next().value as string);
    remembered.add(value);
  }
}

export function scrubSecrets(text: string): string {
  let out = text;
  for (const value of remembered) {
    if (out.includes(value)) out = out.split(value).join(REDACTED);
  }
  return out;
}

/** Scrubs every string inside a JSON-serialisable value (returns a copy). */
export function scrubDeep<T>(value: T): T {
  if (remembered.size === 0) return value;
  return JSON.parse(scrubSecrets(JSON.stringify(value))) as T;
}
