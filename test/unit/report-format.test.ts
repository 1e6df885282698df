import { describe, expect, it } from "vitest";
import { formatReport, wrapText, type Report } from "../../src/report/report";
import { formatTable } from "../../src/report/table";

const base: Report = {
  ok: false,
  action: "heal",
  trigger: { kind: "alarm", via: "alarm-eventbridge", alarmName: "pulls" },
  dryRun: false,
  force: false,
  startedAt: "2026-11-24T08:00:00.000Z",
  durationMs: 812,
  ecrCalls: 1,
  registries: [
    {
      registry: "123456789012.dkr.ecr.us-east-1.amazonaws.com",
      accountId: "123456789012",
      region: "us-east-1",
      secretName: "ecr/creds",
      outcome: "debounced",
      reason: "current version is 60 s old",
      expiresAt: "2026-11-24T19:59:00.000Z",
      secondsRemaining: 43_140,
    },
  ],
  tokenSecondsRemaining: 43_140,
  kubernetes: {
    mode: "applied",
    clusters: [
      {
        cluster: "prod",
        region: "us-east-1",
        ok: false,
        error: "1 namespace failed or in conflict",
        namespaces: [
          { namespace: "a", outcome: "created" },
          { namespace: "b", outcome: "updated" },
          { namespace: "c", outcome: "updated" },
          { namespace: "legacy", outcome: "conflict", reason: "Secret legacy/ecr-pull-secret has type Opaque" },
        ],
        serviceAccounts: { patched: ["a/default"], missing: [], failed: [] },
        externalSecrets: { resynced: ["a/x", "b/y"], failed: [] },
        notes: ["Secrets were updated in place: running pods need no restart"],
      },
    ],
  },
  errors: ["cluster prod: 1 namespace failed or in conflict"],
};

describe("formatReport", () => {
  it("heal: registry table, a per-cluster summary table, the namespaces that need a look, notes, errors", () => {
    const text = formatReport(base);
    expect(text.split("\n")[0]).toBe("FAILED  action=heal trigger=alarm-eventbridge (pulls)  812 ms, 1 ECR call");
    expect(text).toMatch(/ecr\/creds\s+kept \(debounced\)\s+2026-11-24T19:59:00.000Z\s+11h59m/);
    expect(text).toMatch(/CLUSTER\s+CREATED\s+UPDATED\s+UNCHANGED\s+ESO-MANAGED\s+CONFLICT\s+FAILED\s+SKIPPED\s+SA PATCHED\s+ESO RE-SYNCED\s+STATUS/);
    expect(text).toMatch(/us-east-1:prod\s+1\s+2\s+0\s+0\s+1\s+0\s+0\s+1\s+2\s+FAILED: 1 namespace failed or in conflict/);
    expect(text).toMatch(/prod\/legacy\s+conflict\s+Secret legacy\/ecr-pull-secret has type Opaque/);
    expect(text).toContain("note (prod): Secrets were updated in place");
    // The STATUS column already says it: the error is not repeated.
    expect(text).not.toContain("error: cluster prod: 1 namespace failed or in conflict");
  });

  it("ESO-managed namespaces and work the deadline cut are listed; the deadline is said", () => {
    const report: Report = {
      ...base,
      deadline: { at: "2026-11-24T08:00:02.500Z", reached: true },
      kubernetes: {
        mode: "applied",
        clusters: [
          {
            cluster: "prod",
            region: "us-east-1",
            ok: false,
            skipped: "deadline",
            namespaces: [
              {
                namespace: "a",
                outcome: "eso-managed",
                reason: "owned by ExternalSecret a/ecr-pull: not written; ExternalSecret a/ecr-pull re-synced (force-sync)",
              },
              { namespace: "b", outcome: "skipped", reason: "deadline", problem: { kind: "deadline", target: { service: "kubernetes" }, detail: "" } },
              { namespace: "c", outcome: "skipped", reason: "namespace is terminating" },
            ],
          },
        ],
      },
    };
    const text = formatReport(report);
    expect(text).toMatch(/us-east-1:prod\s+0\s+0\s+0\s+1\s+0\s+0\s+2\s/);
    expect(text).toMatch(/prod\/a\s+eso-managed\s+owned by ExternalSecret a\/ecr-pull/);
    expect(text).toMatch(/prod\/b\s+skipped\s+deadline/);
    expect(text).not.toMatch(/prod\/c\s+skipped/);
    expect(text).toContain("deadline 2026-11-24T08:00:02.500Z reached: the work left was skipped (reason: deadline)");
  });

  it("an ignored alarm and a dry run say so", () => {
    expect(
      formatReport({
        ...base,
        ok: true,
        action: "none",
        registries: [],
        kubernetes: undefined,
        errors: [],
        ignored: "alarm pulls went to OK",
        tokenSecondsRemaining: null,
      }),
    ).toContain("ignored: alarm pulls went to OK");
    expect(formatReport({ ...base, dryRun: true }).split("\n")[0]).toContain("DRY RUN (nothing written)");
  });

  it("terminating namespaces are counted in the SKIPPED column", () => {
    const cluster = {
      ...base.kubernetes!.clusters[0]!,
      ok: true,
      error: undefined,
      namespaces: [
        { namespace: "a", outcome: "unchanged" as const },
        { namespace: "old", outcome: "skipped" as const, reason: "namespace is terminating" },
        { namespace: "older", outcome: "skipped" as const, reason: "namespace is terminating" },
      ],
    };
    const text = formatReport({ ...base, ok: true, errors: [], kubernetes: { mode: "applied", clusters: [cluster] } });
    // CREATED UPDATED UNCHANGED ESO-MANAGED CONFLICT FAILED SKIPPED SA-PATCHED ESO-RE-SYNCED STATUS
    expect(text).toMatch(/us-east-1:prod\s+0\s+0\s+1\s+0\s+0\s+0\s+2\s+1\s+2\s+ok/);
  });

  it("a namespace that failed after retries gets the exact re-run command (with --function when the CLI used it)", () => {
    const cluster = {
      ...base.kubernetes!.clusters[0]!,
      namespaces: [
        { namespace: "team-a", outcome: "failed" as const, reason: "throttled (429), retries exhausted" },
        { namespace: "team-b", outcome: "failed" as const, reason: "HTTP 503, retries exhausted" },
      ],
    };
    const report: Report = { ...base, kubernetes: { mode: "applied", clusters: [cluster] } };
    expect(formatReport(report)).toContain("re-run the failed namespaces of prod: ecr-token-rotator heal --cluster prod --namespace team-a --namespace team-b");
    expect(formatReport(report, { rerunOptions: "--function rotator-prod" })).toContain(
      "ecr-token-rotator heal --function rotator-prod --cluster prod --namespace team-a --namespace team-b",
    );
  });

  it("heal without a cluster says visibly that the Kubernetes step was skipped, and why", () => {
    const text = formatReport({
      ...base,
      ok: true,
      errors: [],
      kubernetes: { mode: "skipped", reason: "no cluster configured (EKS_CLUSTERS is empty): no pull Secret was pushed", clusters: [] },
    });
    expect(text).toContain("kubernetes: SKIPPED: no cluster configured (EKS_CLUSTERS is empty)");
  });

  it("a cluster the diagnosis could not read is said once, with no claim about stuck containers", () => {
    const unreadable = "forbidden (403) to list pods cluster-wide: pods is forbidden; grant …";
    const report: Report = {
      ...base,
      action: "diagnose",
      registries: [],
      tokenSecondsRemaining: null,
      kubernetes: {
        mode: "diagnosed",
        clusters: [
          {
            cluster: "prod",
            region: "us-east-1",
            ok: false,
            error: `could not read the cluster: ${unreadable}`,
            namespaces: [],
            diagnosis: { podsScanned: 0, stuck: [], unreadable },
          },
        ],
      },
      errors: [`cluster prod: could not read the cluster: ${unreadable}`],
    };
    const text = formatReport(report);
    expect(text.split(unreadable).length - 1).toBe(1);
    expect(text).toContain(`diagnosis (prod): could not read the cluster: ${unreadable}`);
    expect(text).not.toContain("no container stuck");
    expect(text).not.toContain("pods scanned");
  });

  it("hints are wrapped to the terminal width; without a width (a pipe, a log) nothing is wrapped", () => {
    const hint =
      "grant get on secrets (infra/k8s/components/fallback/rbac.yaml) and diagnose again; the kubelet retries the pull with a back-off of up to five minutes, so wait for it";
    const report: Report = {
      ...base,
      action: "diagnose",
      registries: [],
      tokenSecondsRemaining: null,
      errors: [],
      ok: true,
      kubernetes: {
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
                  namespace: "a",
                  pod: "web",
                  container: "web",
                  image: "123456789012.dkr.ecr.us-east-1.amazonaws.com/web:1",
                  reason: "ImagePullBackOff",
                  causes: [{ code: "unknown", message: "Secret a/x could not be read", hint }],
                },
              ],
            },
          },
        ],
      },
    };
    const wide = formatReport(report);
    expect(wide).toContain(`Secret a/x could not be read — ${hint}`);
    const narrow = formatReport(report, { width: 120 });
    const lines = narrow.split("\n");
    expect(lines.every((l) => l.length <= 120)).toBe(true);
    const hintStart = lines.find((l) => l.startsWith("a/web"))!.indexOf("Secret a/x");
    const continuation = lines.slice(lines.findIndex((l) => l.startsWith("a/web")) + 1).filter((l) => l.startsWith(" ".repeat(hintStart)));
    expect(continuation.length).toBeGreaterThan(0);
    expect(narrow.replace(/\s+/g, " ")).toContain(hint);
  });

  it("a very long text is wrapped whole, never shortened (a fix is never cut)", () => {
    const long = Array.from({ length: 200 }, (_, i) => `word${i}`).join(" ");
    const lines = wrapText(long, 40);
    expect(lines.length).toBeGreaterThan(6);
    expect(lines.every((l) => l.length <= 40)).toBe(true);
    expect(lines.join(" ")).toBe(long);
    expect(wrapText(`${"x".repeat(50)} tail`, 20)).toEqual(["x".repeat(20), "x".repeat(20), `${"x".repeat(10)} tail`]);
  });

  it("a table whose leading columns leave the last too little room is stacked within the width", () => {
    const why = Array.from({ length: 40 }, (_, i) => `reason${i}`).join(" ");
    const lines = formatTable(
      ["REGISTRY", "SECRET", "OUTCOME", "WHY"],
      [["123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ecr/eu-west-1/credentials", "FAILED", why]],
      80,
    );
    expect(lines.every((l) => l.length <= 80)).toBe(true);
    expect(lines.join(" ").replace(/\s+/g, " ")).toContain(why);
    expect(formatTable(["A", "WHY"], [["a", why]])).toEqual(["A  WHY", `a  ${why}`]);
  });
});
