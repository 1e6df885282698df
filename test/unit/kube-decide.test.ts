import { describe, expect, it } from "vitest";
import { buildDockerConfig, parseDockerConfig, serializeDockerConfig, type RegistryLogin } from "../../src/formats/dockerconfig";
import {
  decideSecret,
  decideServiceAccount,
  DOCKERCONFIGJSON_KEY,
  DOCKERCONFIGJSON_TYPE,
  forceSyncPatch,
  MANAGED_BY_LABEL,
  MANAGED_BY_VALUE,
  summarizeSecret,
  type SecretSummary,
} from "../../src/kube/decide";
import type { KubeSecret } from "../../src/kube/types";

const ECR = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
const login: RegistryLogin = { host: ECR, username: "AWS", password: "fresh-password" };
const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString("base64");
const decode = (s: string): unknown => JSON.parse(Buffer.from(s, "base64").toString("utf8"));

const secret = (over: Partial<KubeSecret> & { labels?: Record<string, string>; config?: unknown }): KubeSecret => ({
  metadata: { name: "ecr-pull-secret", namespace: "team-a", resourceVersion: "42", labels: over.labels ?? { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } },
  type: over.type ?? DOCKERCONFIGJSON_TYPE,
  data: over.data ?? { [DOCKERCONFIGJSON_KEY]: b64(over.config ?? buildDockerConfig([{ ...login, password: "old-password" }])) },
});
const input = (existing: KubeSecret | SecretSummary | undefined, adoptUnmanaged = false) => ({
  namespace: "team-a",
  name: "ecr-pull-secret",
  existing,
  logins: [login],
  adoptUnmanaged,
});

describe("decideSecret", () => {
  it("creates a missing secret: dockerconfigjson type, managed-by label, our registry", () => {
    const d = decideSecret(input(undefined));
    expect(d.action).toBe("create");
    if (d.action !== "create") return;
    expect(d.body.type).toBe(DOCKERCONFIGJSON_TYPE);
    expect(d.body.metadata).toMatchObject({ name: "ecr-pull-secret", namespace: "team-a", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } });
    const config = parseDockerConfig(Buffer.from(d.body.data![DOCKERCONFIGJSON_KEY]!, "base64").toString());
    expect(config.auths[ECR]).toEqual({ username: "AWS", password: "fresh-password", auth: Buffer.from("AWS:fresh-password").toString("base64") });
  });

  it("updates a managed secret with a stale token in place, with the resourceVersion precondition", () => {
    const d = decideSecret(input(secret({})));
    expect(d.action).toBe("update");
    if (d.action !== "update") return;
    expect(d.patch.metadata).toEqual({ resourceVersion: "42", labels: { [MANAGED_BY_LABEL]: MANAGED_BY_VALUE } });
    expect(d.adopted).toBe(false);
    const config = decode((d.patch.data as Record<string, string>)[DOCKERCONFIGJSON_KEY]!) as { auths: Record<string, { password: string }> };
    expect(config.auths[ECR]!.password).toBe("fresh-password");
    // never a delete, never a type change in the patch
    expect(d.patch).not.toHaveProperty("type");
  });

  it("keeps other registries' entries (and other top-level keys) when updating", () => {
    const foreign = { auths: { "ghcr.io": { auth: "Zm9vOmJhcg==" }, [ECR]: { username: "AWS", password: "old" } }, credsStore: "x" };
    const d = decideSecret(input(secret({ config: foreign })));
    expect(d.action).toBe("update");
    if (d.action !== "update") return;
    const config = decode((d.patch.data as Record<string, string>)[DOCKERCONFIGJSON_KEY]!) as { auths: Record<string, unknown>; credsStore: string };
    expect(config.auths["ghcr.io"]).toEqual({ auth: "Zm9vOmJhcg==" });
    expect(Object.keys(config.auths).sort()).toEqual(["ghcr.io", ECR].sort());
    expect(config.credsStore).toBe("x");
  });

  it("is unchanged when the managed secret already holds our current entry (regardless of key order)", () => {
    const current = { auths: { "ghcr.io": { auth: "Zm9vOmJhcg==" }, ...buildDockerConfig([login]).auths } };
    const reordered = JSON.parse(serializeDockerConfig({ auths: Object.fromEntries(Object.entries(current.auths).reverse()) }));
    expect(decideSecret(input(secret({ config: reordered }))).action).toBe("unchanged");
  });

  it("conflict: a Secret of another type is left untouched", () => {
    const d = decideSecret(input(secret({ type: "Opaque", data: { token: "abc" } })));
    expect(d).toEqual({ action: "conflict", reason: expect.stringMatching(/type Opaque, not kubernetes.io\/dockerconfigjson/) });
    // even when adoption is allowed
    expect(decideSecret(input(secret({ type: "kubernetes.io/dockercfg" }), true)).action).toBe("conflict");
  });

  it("conflict: an unmanaged dockerconfigjson Secret is left untouched unless adoption is configured", () => {
    const unmanaged = secret({ labels: { "app.kubernetes.io/managed-by": "someone-else" } });
    expect(decideSecret(input(unmanaged))).toMatchObject({ action: "conflict", reason: expect.stringMatching(/not labelled/) });
    const adopted = decideSecret(input(unmanaged, true));
    expect(adopted).toMatchObject({ action: "update", adopted: true });
    if (adopted.action === "update") expect((adopted.patch.metadata as { labels: Record<string, string> }).labels[MANAGED_BY_LABEL]).toBe(MANAGED_BY_VALUE);
  });

  it("adopting an unmanaged Secret that already holds the current entry still writes (to add the label)", () => {
    expect(decideSecret(input(secret({ labels: {}, config: buildDockerConfig([login]) }), true)).action).toBe("update");
  });

  it("a managed Secret with unreadable content is replaced; an unmanaged one is not adopted", () => {
    const broken = secret({ data: { [DOCKERCONFIGJSON_KEY]: Buffer.from("not json").toString("base64") } });
    expect(decideSecret(input(broken))).toMatchObject({ action: "update", replacedInvalid: true });
    expect(decideSecret(input({ ...broken, metadata: { ...broken.metadata, labels: {} } }, true)).action).toBe("conflict");
  });
});

describe("decideServiceAccount", () => {
  const sa = (refs?: Array<{ name?: string }>) => ({
    metadata: { name: "default", namespace: "team-a", resourceVersion: "7" },
    ...(refs ? { imagePullSecrets: refs } : {}),
  });

  it("appends the pull secret and keeps existing entries in order, with the resourceVersion", () => {
    expect(decideServiceAccount(sa([{ name: "other" }, { name: "third" }]), "ecr-pull-secret")).toEqual({
      action: "patch",
      patch: { metadata: { resourceVersion: "7" }, imagePullSecrets: [{ name: "other" }, { name: "third" }, { name: "ecr-pull-secret" }] },
    });
    expect(decideServiceAccount(sa(), "ecr-pull-secret")).toMatchObject({ patch: { imagePullSecrets: [{ name: "ecr-pull-secret" }] } });
  });

  it("is idempotent: no patch when the entry is present", () => {
    expect(decideServiceAccount(sa([{ name: "ecr-pull-secret" }, { name: "x" }]), "ecr-pull-secret")).toEqual({ action: "unchanged" });
  });

  it("reports a missing ServiceAccount (never creates one)", () => {
    expect(decideServiceAccount(undefined, "ecr-pull-secret")).toEqual({ action: "missing" });
  });
});

describe("forceSyncPatch", () => {
  it("annotates force-sync with unix seconds", () => {
    expect(forceSyncPatch(new Date("2026-11-24T08:00:00.900Z"))).toEqual({ metadata: { annotations: { "force-sync": "1795507200" } } });
  });
});

describe("summarizeSecret", () => {
  it("keeps only what the decision needs; deciding on the summary equals deciding on the Secret", () => {
    const full = secret({ config: { auths: { "ghcr.io": { auth: "Zm9vOmJhcg==" }, [ECR]: { username: "AWS", password: "old" } }, credsStore: "x" } });
    const summary = summarizeSecret(full, [login]);
    expect(summary).toEqual({
      type: DOCKERCONFIGJSON_TYPE,
      resourceVersion: "42",
      managed: true,
      content: "valid",
      foreign: { auths: { "ghcr.io": { auth: "Zm9vOmJhcg==" } }, credsStore: "x" },
      oursCurrent: false,
    });
    // no trace of our registry's (old) credentials in the summary
    expect(JSON.stringify(summary)).not.toContain("old");
    expect(decideSecret(input(summary))).toEqual(decideSecret(input(full)));
    const current = summarizeSecret(secret({ config: buildDockerConfig([login]) }), [login]);
    expect(current.oursCurrent).toBe(true);
    expect(decideSecret(input(current)).action).toBe("unchanged");
    // Nothing but our entries: no foreign part is kept (one small summary per namespace).
    const onlyOurs = summarizeSecret(secret({ config: { auths: { [ECR]: { username: "AWS", password: "old" } } } }), [login]);
    expect(onlyOurs).toEqual({ type: DOCKERCONFIGJSON_TYPE, resourceVersion: "42", managed: true, content: "valid", oursCurrent: false });
    expect(decideSecret(input(onlyOurs))).toEqual(decideSecret(input(secret({ config: { auths: { [ECR]: { username: "AWS", password: "old" } } } }))));
  });
});
