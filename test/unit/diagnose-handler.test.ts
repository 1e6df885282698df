/** `{"action":"diagnose"}` through the Lambda handler and the real Powertools telemetry. */
import { afterAll, beforeAll, expect, it } from "vitest";
import { createHandler } from "../../handlers/rotate";
import type { App } from "../../src/app/app";
import { loadConfig } from "../../src/config/config";
import type { DiagnoseStep } from "../../src/run/run";
import type { SecretsApi } from "../../src/rotation/secrets-manager";
import { HOST_USE1, NOW } from "../support/fixtures";

let captured = "";
const originalStdout = process.stdout.write.bind(process.stdout);
beforeAll(() => {
  process.env.POWERTOOLS_METRICS_NAMESPACE = "EcrTokenRotator";
  process.stdout.write = (chunk: string | Uint8Array) => ((captured += chunk.toString()), true);
});
afterAll(() => {
  process.stdout.write = originalStdout;
});

it.each([
  ["listed", undefined, 1, { "token-expired": 1 }],
  // 4 more beyond the per-run cap: counted by cause in `summary`, and in the metric.
  [
    "beyond the cap",
    {
      truncated: 4,
      summary: [
        { code: "token-expired", containers: 3, namespaces: ["payments"] },
        { code: "unknown", containers: 2, namespaces: ["payments"] },
      ],
    },
    5,
    { "token-expired": 3, unknown: 2 },
  ],
] as const)("diagnose (%s): no AWS call, the diagnosis in the result, StuckContainers metric, no rotation metrics", async (_name, extra, total, byCause) => {
  captured = "";
  const untouchable = () => {
    throw new Error("diagnose must not call AWS");
  };
  const step: DiagnoseStep = async ({ request }) => ({
    mode: "diagnosed",
    clusters: [
      {
        cluster: "prod",
        region: "us-east-1",
        ok: true,
        namespaces: [],
        diagnosis: {
          podsScanned: 3,
          stuck: [
            {
              namespace: request.namespaces?.[0] ?? "x",
              pod: "web",
              container: "app",
              image: `${HOST_USE1}/a:1`,
              reason: "ImagePullBackOff",
              causes: [{ code: "token-expired", message: "m", hint: "h" }],
            },
          ],
          ...(extra ? { truncated: extra.truncated, summary: extra.summary.map((c) => ({ ...c, namespaces: [...c.namespaces] })) } : {}),
        },
      },
    ],
  });
  const app: App = {
    config: loadConfig({ AWS_REGION: "us-east-1", ECR_REGISTRIES: HOST_USE1, EKS_CLUSTERS: "prod" }),
    deps: {
      ecr: { getAuthorizationToken: untouchable },
      secrets: new Proxy({}, { get: () => untouchable }) as SecretsApi,
      now: () => NOW,
      diagnose: async () => step,
    },
  };
  const result = (await createHandler(() => app)({ action: "diagnose", namespaces: ["payments"] })) as {
    ok: boolean;
    kubernetes: { clusters: Array<{ diagnosis: { stuck: Array<{ namespace: string }> } }> };
  };
  expect(result.ok).toBe(true);
  expect(result.kubernetes.clusters[0]!.diagnosis.stuck[0]!.namespace).toBe("payments");
  const lines = captured
    .trim()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.find((l) => l.message === "invocation summary")).toMatchObject({ action: "diagnose", stuckContainers: total, stuckByCause: byCause });
  const emf = lines.find((l) => "_aws" in l)!;
  expect(emf).toMatchObject({ StuckContainers: total });
  expect(emf).not.toHaveProperty("RotationSucceeded");
  expect(emf).not.toHaveProperty("SecretsWritten");
});
