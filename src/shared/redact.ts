/**
 * Defence in depth for "secrets never leave": every secret value the process decodes (ECR
 * password, raw token, docker `auth`, bearer tokens) is remembered here, and every error
 * message and Report passes through `scrubSecrets` before it is logged or returned. The
 * primary guarantee stays structural (Reports hold no secret fields); this catches a secret
 * echoed back by a remote error message.
 */
const remembered = new Set<string>();
const MAX_REMEMBERED = 256;
const REDACTED = "[redacted]";

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
