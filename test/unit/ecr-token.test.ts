/**
 * ECR authorization tokens (docs/facts.md §1):
 * base64(`user:password`) split on the FIRST ':' only; a real password carries its own expiry.
 * Bad-token vectors restate kubernetes/cloud-provider-aws cmd/ecr-credential-provider/main_test.go
 * (base64("foo") has no ':') and awslabs/amazon-ecr-credential-helper ecr-login/api/client_test.go
 * ("invalid:token" is not base64, "invalidtoken" decodes to no ':').
 */
import { describe, expect, it } from "vitest";
import { TokenFormatError, decodeAuthorizationToken, expiryEmbeddedInPassword, secondsUntil } from "../../src/formats/ecr-token";
import { PASSWORD, RAW_TOKEN } from "../support/fixtures";

const b64 = (text: string) => Buffer.from(text, "utf8").toString("base64");

/** Shaped like a real ECR password: base64 of the JSON envelope with `expiration` in unix seconds. */
function realisticPassword(expirationUnixSeconds: number): string {
  return b64(
    JSON.stringify({
      payload: "k8jKq0Zb3Wq1mYQm2yq0kC4m8n9Lr0a5Qe2uTzF7bXcVwYhJpLsNdRgEiOuAy6t",
      datakey: "AQEBAHhwm0YaISJeRtJm5n1G6uqeekXuoXXPe5UFce9Rq8/14wAAAH4wfAYJKoZIhvcNAQcGoG8wbQIBADBoBgkqhkiG9w0BBwEwHgYJ",
      version: "2",
      type: "DATA_KEY",
      expiration: expirationUnixSeconds,
    }),
  );
}

function tokenError(token: string | undefined): TokenFormatError {
  try {
    decodeAuthorizationToken(token);
  } catch (error) {
    expect(error).toBeInstanceOf(TokenFormatError);
    return error as TokenFormatError;
  }
  throw new Error("token accepted");
}

describe("decodeAuthorizationToken", () => {
  it("splits user and password", () => {
    expect(decodeAuthorizationToken(b64("AWS:hunter2-password"))).toEqual({ username: "AWS", password: "hunter2-password" });
  });

  it("splits on the FIRST ':' only: a password containing ':' survives intact", () => {
    expect(decodeAuthorizationToken(RAW_TOKEN)).toEqual({ username: "AWS", password: PASSWORD });
    expect(PASSWORD).toContain(":");
    expect(decodeAuthorizationToken(b64("AWS:a:b::c:"))).toEqual({ username: "AWS", password: "a:b::c:" });
  });

  it("decodes a realistic ECR token whose password is itself base64 JSON", () => {
    const password = realisticPassword(1_795_000_000);
    expect(decodeAuthorizationToken(b64(`AWS:${password}`))).toEqual({ username: "AWS", password });
  });

  it("accepts unpadded base64", () => {
    const padded = b64("AWS:pass1"); // "QVdTOnBhc3Mx" has no padding; use one that does
    const withPadding = b64("AWS:pass12");
    expect(withPadding.endsWith("=")).toBe(true);
    expect(decodeAuthorizationToken(withPadding.replace(/=+$/, ""))).toEqual({ username: "AWS", password: "pass12" });
    expect(decodeAuthorizationToken(padded).password).toBe("pass1");
  });

  it.each([
    ["undefined", undefined, /empty authorization token/],
    ["empty", "", /empty authorization token/],
    ["not base64 (credential helper 'invalid:token')", "invalid:token", /not valid base64/],
    ["not base64 (url-safe alphabet)", "QVdT-nBhc3M_", /not valid base64/],
    ["not base64 (impossible length)", "QVdTOnBhc3MxQ", /not valid base64/],
    ["decodes without ':' (kubelet base64('foo'))", b64("foo"), /no ":" separating user and password/],
    ["decodes without ':' (credential helper 'invalidtoken')", "invalidtoken", /no ":" separating user and password/],
    ["empty user name", b64(":some-password"), /empty user name/],
    ["empty password", b64("AWS:"), /empty password/],
  ])("%s → TokenFormatError", (_label, token, message) => {
    const error = tokenError(token);
    expect(error.name).toBe("TokenFormatError");
    expect(error.message).toMatch(/^ECR authorization token rejected: /);
    expect(error.message).toMatch(message);
  });

  it("the error never contains the token or what it decodes to", () => {
    const secretish = "S3cr3tPasswordWithoutAnySeparator0123456789";
    for (const token of [b64(secretish), `${secretish}!!`, b64(`:${secretish}`), b64(`${secretish}:`)]) {
      const error = tokenError(token);
      expect(error.message).not.toContain(token);
      expect(error.message).not.toContain(secretish);
    }
  });
});

describe("expiryEmbeddedInPassword", () => {
  it("reads `expiration` (unix seconds) from a real-shaped ECR password", () => {
    const expiration = Date.UTC(2026, 10, 24, 20, 0, 0) / 1000;
    expect(expiryEmbeddedInPassword(realisticPassword(expiration))).toEqual(new Date("2026-11-24T20:00:00.000Z"));
  });

  it("keeps fractional seconds", () => {
    expect(expiryEmbeddedInPassword(b64(JSON.stringify({ expiration: 1_795_000_000.5 })))?.getTime()).toBe(1_795_000_000_500);
  });

  it.each([
    ["moto's plain password", "moto-ecr-password-not-base64!"],
    ["the shared test password (contains ':')", PASSWORD],
    ["base64 of text that is not JSON", b64("just some bytes")],
    ["base64 of a JSON number", b64("1795000000")],
    ["base64 of JSON null", b64("null")],
    ["base64 of a JSON array", b64("[1795000000]")],
    ["no expiration field", b64(JSON.stringify({ payload: "x", version: "2" }))],
    ["expiration as a string", b64(JSON.stringify({ expiration: "1795000000" }))],
    ["expiration null", b64(JSON.stringify({ expiration: null }))],
    ["empty password", ""],
  ])("%s → undefined (expiry unknown)", (_label, password) => {
    expect(expiryEmbeddedInPassword(password)).toBeUndefined();
  });
});

describe("secondsUntil", () => {
  const now = new Date("2026-11-24T08:00:00.000Z");

  it("counts whole seconds from now to the expiry", () => {
    expect(secondsUntil(new Date("2026-11-24T20:00:00.000Z"), now)).toBe(12 * 3600);
    expect(secondsUntil(new Date("2026-11-24T08:00:01.999Z"), now)).toBe(1);
    expect(secondsUntil(new Date("2026-11-24T08:00:00.999Z"), now)).toBe(0);
    expect(secondsUntil(now, now)).toBe(0);
  });

  it("is negative for an expiry in the past (never rounds a past expiry up to 0)", () => {
    expect(secondsUntil(new Date("2026-11-24T07:00:00.000Z"), now)).toBe(-3600);
    expect(secondsUntil(new Date("2026-11-24T07:59:59.500Z"), now)).toBeLessThan(0);
  });
});
