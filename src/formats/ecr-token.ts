import { TokenFormatError } from "../shared/errors";
import { rememberSecret } from "../shared/redact";
import { ECR_TOKEN_LIFETIME_SECONDS, EXPIRY_CLOCK_SKEW_SECONDS } from "../shared/names";

/**
 * ECR authorization tokens: decoding and expiry. Pure functions.
 * `authorizationToken` is base64(`user:password`); it is split on the FIRST `:` only.
 */

export { TokenFormatError };

export interface DecodedToken {
  username: string;
  password: string;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

export function decodeAuthorizationToken(token: string | undefined): DecodedToken {
  if (token === undefined || token === "") throw new TokenFormatError("empty authorization token");
  if (!BASE64.test(token) || token.length % 4 === 1) throw new TokenFormatError("not valid base64");
  const decoded = Buffer.from(token, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  if (colon < 0) throw new TokenFormatError('decoded token has no ":" separating user and password');
  const username = decoded.slice(0, colon);
  const password = decoded.slice(colon + 1);
  rememberSecret(token, password, Buffer.from(`${username}:${password}`, "utf8").toString("base64"));
  if (username === "") throw new TokenFormatError("decoded token has an empty user name");
  if (password === "") throw new TokenFormatError("decoded token has an empty password");
  return { username, password };
}

/**
 * A real ECR password is itself base64 of a JSON envelope carrying `expiration` (unix seconds).
 * Returns that expiry, or undefined when the password has another shape (e.g. the emulator's).
 */
export function expiryEmbeddedInPassword(password: string): Date | undefined {
  if (!BASE64.test(password)) return undefined;
  try {
    const envelope: unknown = JSON.parse(Buffer.from(password, "base64").toString("utf8"));
    if (typeof envelope !== "object" || envelope === null) return undefined;
    const expiration = (envelope as { expiration?: unknown }).expiration;
    if (typeof expiration !== "number" || !Number.isFinite(expiration)) return undefined;
    return new Date(expiration * 1000);
  } catch {
    return undefined;
  }
}

export function secondsUntil(expiresAt: Date, now: Date): number {
  return Math.floor((expiresAt.getTime() - now.getTime()) / 1000);
}

/**
 * An expiry an ECR token can have, judged at `now`: at most its lifetime (12 h) plus the
 * clock-skew margin ahead. One further ahead is not believed (see EXPIRY_CLOCK_SKEW_SECONDS).
 */
export function isPlausibleExpiry(expiresAt: Date, now: Date): boolean {
  return secondsUntil(expiresAt, now) <= ECR_TOKEN_LIFETIME_SECONDS + EXPIRY_CLOCK_SKEW_SECONDS;
}

/** Seconds of validity left as reported (rows, the Report, the metric): never more than the token lifetime. */
export function reportedSecondsLeft(expiresAt: Date, now: Date): number {
  return Math.min(secondsUntil(expiresAt, now), ECR_TOKEN_LIFETIME_SECONDS);
}
