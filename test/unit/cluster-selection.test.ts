import { GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";
import { describe, expect, it } from "vitest";
import { sdkEcrApi, sdkSecretsManagerApi } from "../../src/rotation/aws";
import { selectClusters, unknownAlarmClusters } from "../../src/request/cluster-selection";
import type { ClusterConfig } from "../../src/config/config";
import { loadConfig } from "../../src/config/config";
import { BadRequestError } from "../../src/shared/errors";
import { runRequest } from "../../src/run/run";
import { parseManualRequest, type Request } from "../../src/request/triggers";
import { mockAwsSdk } from "../support/aws-fakes";

const clusters: ClusterConfig[] = [
  { name: "prod", region: "us-east-1" },
  { name: "prod", region: "eu-west-1" },
  { name: "batch", region: "us-east-1" },
];
const alarm = (alarmClusters?: string[]): Request => ({
  action: "heal",
  trigger: { kind: "alarm", via: "alarm-action", ...(alarmClusters ? { alarmClusters } : {}) },
  dryRun: false,
  force: false,
});

describe("selectClusters", () => {
  it("all configured clusters by default", () => {
    expect(selectClusters(clusters, parseManualRequest({ action: "heal" }))).toEqual(clusters);
  });

  it("a manual request names clusters by name or region:name", () => {
    expect(selectClusters(clusters, parseManualRequest({ action: "heal", clusters: ["batch"] }))).toEqual([clusters[2]]);
    expect(selectClusters(clusters, parseManualRequest({ action: "heal", clusters: ["eu-west-1:prod"] }))).toEqual([clusters[1]]);
    expect(selectClusters(clusters, parseManualRequest({ action: "heal", clusters: ["prod"] }))).toEqual([clusters[0], clusters[1]]);
  });

  it("unknown cluster names are a bad request naming them and the configured ones", () => {
    expect(() => selectClusters(clusters, parseManualRequest({ action: "heal", clusters: ["prd", "batch"] }))).toThrow(
      /cluster prd not configured \(EKS_CLUSTERS: us-east-1:prod, eu-west-1:prod, us-east-1:batch\)/,
    );
  });

  it("an alarm on one cluster heals that cluster; an alarm naming none of ours heals none; one without a cluster heals all", () => {
    expect(selectClusters(clusters, alarm(["batch"]))).toEqual([clusters[2]]);
    expect(selectClusters(clusters, alarm(["someone-elses"]))).toEqual([]);
    expect(unknownAlarmClusters(clusters, alarm(["batch", "someone-elses"]))).toEqual(["someone-elses"]);
    expect(selectClusters(clusters, alarm())).toEqual(clusters);
  });
});

describe("a heal naming an unknown cluster", () => {
  it("is rejected before any AWS call or write", async () => {
    const { ecr, sm } = mockAwsSdk();
    const config = loadConfig({ AWS_REGION: "us-east-1", EKS_CLUSTERS: "prod" });
    const deps = { ecr: sdkEcrApi(), secrets: sdkSecretsManagerApi("us-east-1"), now: () => new Date() };
    await expect(runRequest(parseManualRequest({ action: "heal", clusters: ["staging"] }), config, deps)).rejects.toThrow(BadRequestError);
    expect(ecr.commandCalls(GetAuthorizationTokenCommand)).toHaveLength(0);
    expect(sm.calls()).toHaveLength(0);
    ecr.restore();
    sm.restore();
  });
});
