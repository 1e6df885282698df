/** The typed Problem: built from codes and statuses (never message text), and what is derived from it. */
import { describe, expect, it } from "vitest";
import { describeFailure } from "../../src/kube/failure";
import { KubeApiError } from "../../src/kube/types";
import { DeadlineExceededError } from "../../src/shared/deadline";
import { httpProblem, isRetryable, rowOutcome, transportProblem, type Problem } from "../../src/shared/problem";
import { kubeRequestReason, problemHint } from "../../src/shared/problem-text";
import { scrub, scrubUrl } from "../../src/shared/redact-text";

const EKS = "https://0123456789ABCDEF0123456789ABCDEF.gr7.us-east-1.eks.amazonaws.com";
const dnsError = () => Object.assign(new Error(`getaddrinfo ENOTFOUND ${EKS.slice(8)}`), { code: "ENOTFOUND", syscall: "getaddrinfo" });

describe("transportProblem: the class comes from the error's code", () => {
  it.each([
    ["ENOTFOUND", "ENOTFOUND", false],
    ["ECONNREFUSED", "ECONNREFUSED", true],
    ["ETIMEDOUT", "ETIMEDOUT", true],
    ["UND_ERR_CONNECT_TIMEOUT", "ETIMEDOUT", true],
    ["ECONNRESET", "ECONNRESET", true],
    ["EPIPE", "ECONNRESET", true],
    ["UND_ERR_SOCKET", "ECONNRESET", true],
    ["DEPTH_ZERO_SELF_SIGNED_CERT", "TLS", false],
    ["ERR_TLS_CERT_ALTNAME_INVALID", "TLS", false],
    ["UNABLE_TO_VERIFY_LEAF_SIGNATURE", "TLS", false],
    ["EAI_AGAIN", "other", true],
    ["EWHATEVER", "other", false],
  ])("%s → network %s (retryable %s)", (errno, code, retryable) => {
    const p = transportProblem(Object.assign(new Error("x"), { code: errno }), { service: "kubernetes", url: EKS });
    expect(p).toMatchObject({ kind: "network", code, errno });
    expect(isRetryable(p)).toBe(retryable);
  });

  it("reads the code in the cause chain (undici's fetch failed), not the message", () => {
    const wrapped = new TypeError("fetch failed", { cause: dnsError() });
    expect(transportProblem(wrapped, { service: "kubernetes" })).toMatchObject({ kind: "network", code: "ENOTFOUND" });
    // The words alone classify nothing.
    expect(transportProblem(new Error("socket hang up ECONNRESET"), { service: "kubernetes" })).toMatchObject({ kind: "network", code: "other" });
  });
});

describe("a DNS failure", () => {
  it("is reported as 'cannot resolve <host>' with the private-endpoint hint, the host kept", () => {
    const error = new KubeApiError(transportProblem(dnsError(), { service: "kubernetes", url: EKS, verb: "list", resource: "namespaces" }));
    const reason = describeFailure(error, "list", "namespaces", undefined, []);
    expect(reason).toContain(`cannot resolve ${EKS.slice(8)}`);
    expect(reason).toMatch(/VPN/);
    expect(reason).toMatch(/VPC/);
    expect(reason).toContain("endpoint");
    expect(reason).not.toContain("[redacted]");
    expect(reason).not.toMatch(/HTTP -1|caData|TLS/);
    expect(error.message).toContain(`cannot resolve ${EKS.slice(8)}`);
    expect(problemHint(error.problem)).toContain("cannot resolve");
  });
});

describe("HTTP answers", () => {
  it.each([
    [401, "unauthorized", false],
    [403, "forbidden", false],
    [404, "not-found", false],
    [409, "conflict", true],
    [429, "throttled", true],
    [500, "server", true],
    [503, "server", true],
    [400, "rejected", false],
    [422, "rejected", false],
  ])("%i → %s (retryable %s)", (status, kind, retryable) => {
    const p = httpProblem(status, { service: "kubernetes" });
    expect(p.kind).toBe(kind);
    expect(isRetryable(p)).toBe(retryable);
    expect(rowOutcome(p)).toBe("failed");
  });

  it("a write into a missing namespace is 'namespace X not found' by the Status details, whatever its message says", () => {
    const p = httpProblem(
      404,
      { service: "kubernetes", verb: "create", resource: "secrets", namespace: "team-a" },
      { detail: "anything at all", about: "namespaces" },
    );
    expect(kubeRequestReason(p)).toBe("namespace team-a not found");
    const other = httpProblem(
      404,
      { service: "kubernetes", verb: "create", resource: "secrets", namespace: "team-a" },
      { detail: 'namespaces "team-a" not found' },
    );
    expect(kubeRequestReason(other)).toBe('not found (404) on create secrets in namespace "team-a": namespaces "team-a" not found');
  });

  it("the reason scrubs the apply's secret values from the server's message", () => {
    const p: Problem = httpProblem(
      422,
      { service: "kubernetes", verb: "patch", resource: "secrets", namespace: "n" },
      { detail: "Invalid value: hunter2-password" },
    );
    expect(kubeRequestReason(p, ["hunter2-password"])).toBe('HTTP 422 on patch secrets in namespace "n": Invalid value: [redacted]');
  });
});

describe("the deadline", () => {
  it("is its own kind: not retried, the row is skipped", () => {
    const reason = describeFailure(new DeadlineExceededError("list secrets"), "list", "secrets", "n", []);
    expect(reason).toBe('deadline: list secrets in namespace "n" not done before the invocation\'s deadline');
    const p: Problem = { kind: "deadline", target: { service: "kubernetes" }, detail: "" };
    expect(isRetryable(p)).toBe(false);
    expect(rowOutcome(p)).toBe("skipped");
  });
});

describe("scrubUrl / scrub keep the host", () => {
  it("drops userinfo and query values, keeps scheme, host and port as written", () => {
    expect(scrubUrl(`${EKS}/api/v1/namespaces`)).toBe(`${EKS}/api/v1/namespaces`);
    expect(scrubUrl("https://user:pa55word@Registry.Example.com:8443/v2/?token=abc&x")).toBe(
      "https://[redacted]@Registry.Example.com:8443/v2/?token=[redacted]&x",
    );
    expect(scrubUrl(`https://h.example.com/t/${"A1b2C3d4".repeat(6)}/x`)).toBe("https://h.example.com/t/[redacted]/x");
  });

  it("a URL in text is no longer swallowed into https:[redacted]", () => {
    expect(scrub(`request to ${EKS} failed`)).toBe(`request to ${EKS} failed`);
    expect(scrub(`Bearer ${"x".repeat(40)} at ${EKS}`)).toBe(`Bearer [redacted] at ${EKS}`);
  });
});
