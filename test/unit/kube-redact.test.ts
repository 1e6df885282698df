import { describe, expect, it } from "vitest";
import { REDACTED } from "../../src/shared/redact";
import { scrub, secretValuesOf } from "../../src/shared/redact-text";

describe("scrub", () => {
  const logins = [{ host: "h", username: "AWS", password: "short-pass-1" }];
  const secrets = secretValuesOf(logins, ["k8s-aws-v1.abc"]);

  it("removes known values: password, auth (padded and unpadded), extra tokens", () => {
    const auth = Buffer.from("AWS:short-pass-1").toString("base64");
    const out = scrub(`pw short-pass-1 auth ${auth} unpadded ${auth.replace(/=+$/, "")} tok k8s-aws-v1.abc`, secrets);
    expect(out).not.toMatch(/short-pass-1|k8s-aws-v1\.abc/);
    expect(out).not.toContain(auth.replace(/=+$/, ""));
    expect(out).toContain(REDACTED);
  });

  it("removes anything token-shaped and bearer credentials, keeps names and messages readable", () => {
    const blob = Buffer.from("x".repeat(60)).toString("base64");
    const out = scrub(
      `secrets "ecr-pull-secret" is forbidden: User "ecr-token-rotator" cannot patch resource "secrets" in API group "" in the namespace "team-a-very-long-namespace-name-for-tests" value ${blob} Authorization: Bearer abc.def`,
    );
    expect(out).not.toContain(blob);
    expect(out).not.toContain("abc.def");
    expect(out).toContain('cannot patch resource "secrets"');
    expect(out).toContain("team-a-very-long-namespace-name-for-tests");
    expect(out).toContain("ecr-pull-secret");
  });

  it("bounds the length", () => {
    expect(scrub("word ".repeat(500)).length).toBeLessThanOrEqual(401);
  });
});
