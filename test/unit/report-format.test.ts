import { describe, expect, it } from "vitest";
import { formatReport, type Report } from "../../src/report/report";

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
    expect(text).toContain("error: cluster prod: 1 namespace failed or in conflict");
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
              { namespace: "b", outcome: "skipped", reason: "deadline" },
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
});
