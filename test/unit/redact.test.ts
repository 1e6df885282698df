/** The process-wide scrub list (src/shared/redact.ts): bounded, but never at a live credential's expense. */
import { describe, expect, it } from "vitest";
import { looksLikeCredential, MAX_REMEMBERED, openSecretScope, rememberedCount, rememberSecret, scrubSecrets } from "../../src/shared/redact";

const secret = (label: string, i: number) => `${label}-S3cr3t-${i.toString().padStart(5, "0")}`;

describe("scrub list eviction (issue 9 item 6)", () => {
  it("a credential registered early in a run is still scrubbed after many more were registered in that run", () => {
    const close = openSecretScope();
    try {
      const first = secret("ecr-password", 0);
      rememberSecret(first);
      // A fleet run: many clusters, each with a bearer token and its presigned URL.
      for (let i = 1; i <= MAX_REMEMBERED * 2; i++) rememberSecret(secret("bearer", i));
      expect(scrubSecrets(`401 for ${first}`)).toBe("401 for [redacted]");
      expect(scrubSecrets(secret("bearer", 1))).toBe("[redacted]");
      expect(rememberedCount()).toBeGreaterThan(MAX_REMEMBERED);
    } finally {
      close();
    }
  });

  it("after the run, values of finished runs are evicted (oldest first) down to the bound; a value used again stays", () => {
    const reused = secret("cached-eks-token", 0);
    const close = openSecretScope();
    rememberSecret(reused);
    for (let i = 1; i <= MAX_REMEMBERED; i++) rememberSecret(secret("old-run", i));
    close();

    const next = openSecretScope();
    try {
      rememberSecret(reused); // the warm invocation reuses the cached token: live again
      for (let i = 1; i <= 10; i++) rememberSecret(secret("new-run", i));
      expect(rememberedCount()).toBeLessThanOrEqual(MAX_REMEMBERED + 11);
      expect(scrubSecrets(reused)).toBe("[redacted]");
      for (let i = 1; i <= 10; i++) expect(scrubSecrets(secret("new-run", i))).toBe("[redacted]");
      expect(scrubSecrets(secret("old-run", 1))).toBe(secret("old-run", 1));
    } finally {
      next();
    }
    rememberSecret("trigger-eviction-1");
    expect(rememberedCount()).toBeLessThanOrEqual(MAX_REMEMBERED);
  });

  it("two overlapping runs: the first run's values stay live while it is open, even when the second starts later", () => {
    const a = openSecretScope();
    const early = secret("run-a", 0);
    rememberSecret(early);
    const b = openSecretScope();
    for (let i = 1; i <= MAX_REMEMBERED * 2; i++) rememberSecret(secret("run-b", i));
    b();
    rememberSecret("trigger-eviction-2");
    expect(scrubSecrets(early)).toBe("[redacted]");
    a();
  });
});

describe("looksLikeCredential", () => {
  it("flags tokens, keys and URL passwords; keeps names, hosts, ARNs and selectors", () => {
    for (const yes of [
      "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
      "AKIAIOSFODNN7EXAMPLE",
      "https://u:p4ss@h.example",
      "k8s-aws-v1.aHR0cHM6Ly9zdHM",
      "eyJhbGciOiJIUzI1NiJ9",
      "QVdTOmV5SndZWGxzYjJGa0lqb2lTR3gyTjJ0QmMy",
    ]) {
      expect(looksLikeCredential(yes)).toBe(true);
    }
    for (const no of [
      "Prod-EU-Cluster-2024-West",
      "123456789012.dkr.ecr.us-east-1.amazonaws.com",
      "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
      "tier in (web,api)",
      "production/ecr/credentials",
      "sometimes",
    ]) {
      expect(looksLikeCredential(no)).toBe(false);
    }
  });
});
