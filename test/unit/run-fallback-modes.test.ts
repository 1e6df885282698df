/** FALLBACK_MODE routing of runRequest: when the Kubernetes step runs, and that it runs after Secrets Manager. */
import { describe, expect, it } from "vitest";
import { createApp } from "../../src/app/app";
import { runRequest, type KubernetesStep } from "../../src/run/run";
import { parseManualRequest } from "../../src/request/triggers";
import { emptySecrets, memoryEcr } from "../support/aws-fakes";
import { NOW } from "../support/fixtures";

function harness(mode: string) {
  const calls: string[] = [];
  const ecr = memoryEcr();
  const secrets = emptySecrets((op, name) => {
    if (op === "create") calls.push(`create ${name}`);
  });
  const app = createApp({ AWS_REGION: "us-east-1", EKS_CLUSTERS: "prod", FALLBACK_MODE: mode });
  const step: KubernetesStep = async ({ credentials }) => {
    calls.push(`kubernetes with ${credentials.length} credential(s)`);
    return { mode: "applied", clusters: [{ cluster: "prod", region: "us-east-1", ok: true, namespaces: [] }] };
  };
  const deps = { ...app.deps, ecr, secrets, now: () => NOW, kubernetes: app.deps.kubernetes ? async () => step : undefined };
  return { calls, run: (action: "rotate" | "heal") => runRequest(parseManualRequest({ action }), app.config, deps) };
}

describe("FALLBACK_MODE", () => {
  it("on-heal (default): a rotation does not touch clusters, a heal does — after Secrets Manager", async () => {
    const h = harness("on-heal");
    expect((await h.run("rotate")).kubernetes).toBeUndefined();
    expect(h.calls).toEqual(["create ecr/123456789012/us-east-1/credentials"]);
    const heal = await h.run("heal");
    expect(heal.kubernetes).toMatchObject({ mode: "applied" });
    expect(h.calls.slice(1)).toEqual(["create ecr/123456789012/us-east-1/credentials", "kubernetes with 1 credential(s)"]);
  });

  it("always: every scheduled rotation also applies", async () => {
    const h = harness("always");
    expect((await h.run("rotate")).kubernetes).toMatchObject({ mode: "applied" });
    expect(h.calls).toEqual(["create ecr/123456789012/us-east-1/credentials", "kubernetes with 1 credential(s)"]);
  });

  it("off: a heal rotates and says why clusters were skipped", async () => {
    const h = harness("off");
    const heal = await h.run("heal");
    expect(heal.kubernetes).toEqual({ mode: "skipped", reason: "FALLBACK_MODE=off", clusters: [] });
    expect(h.calls).toEqual(["create ecr/123456789012/us-east-1/credentials"]);
  });
});
