/**
 * A cluster in another account (issue 12 item 1) on real servers: the product assumes the
 * cluster's role through moto's STS (behind test/support/sts-trust.ts, which records each
 * AssumeRole and evaluates the role's trust policy, which moto does not: the policy of the
 * member-account template, infra/cloudformation/member-account.cjs, rendered with the central
 * role as CentralRoleArn and the ExternalId),
 * and the bed's kube-apiserver authenticates the product's token as that assumed role — the
 * identity is registered with the bed's TokenReview webhook at run time, when moto issues it,
 * mapped to the group `ecr-token-rotator` (the access entry of the role). The bed knows no other
 * identity: the function's own credentials would be refused.
 *   - the heal writes the pull Secrets as the assumed role;
 *   - a wrong externalId is refused (the request carried it), naming the role;
 *   - a role without an access entry is refused, naming the role ARN the cluster saw;
 *   - DescribeCluster runs as the assumed role: moto finds the cluster in the role's account only.
 */
import { createRequire } from "node:module";
import { CreateClusterCommand, EKSClient } from "@aws-sdk/client-eks";
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHandler } from "../../handlers/rotate";
import { createApp } from "../../src/app/app";
import type { Report } from "../../src/report/report";
import type { Telemetry } from "../../src/run/telemetry";
import { AssumedRoleCache, sdkAssumeRole } from "../../src/eks/assume-role";
import { getAssumedClusterAccess, resolveClusterConnection, sdkDescribeCluster } from "../../src/eks/connection";
import { EksTokenCache } from "../../src/eks/token-cache";
import { DEFAULT_IDENTITIES, startBed, type Bed } from "../bed/index";
import { PRODUCT_MANIFESTS } from "../bed/product-manifests";
import { whoami } from "../bed/tokens";
import { productEnvForBed } from "../support/bed-env";
import { startMoto, type MotoServer } from "../support/moto";
import { startStsTrustProxy, trustAllows, type StsTrustProxy, type TrustPolicy } from "../support/sts-trust";
import { ECRClient, GetAuthorizationTokenCommand } from "@aws-sdk/client-ecr";

const SPOKE_ACCOUNT = "222222222222";
const SPOKE_ROLE = `arn:aws:iam::${SPOKE_ACCOUNT}:role/ecr-token-rotator-spoke`;
const UNMAPPED_ROLE = `arn:aws:iam::${SPOKE_ACCOUNT}:role/unmapped-spoke`;
const EXTERNAL_ID = "fleet-7f3a9c";
/** The central function's role: the principal the function's credentials (the bed's rotator identity) sign as. */
const CENTRAL_ROLE = "arn:aws:iam::123456789012:role/ecr-token-rotator-prod-us-east-1-lambdaRole";

/** The trust policy of the member-account template's role, its parameters (Ref) resolved. */
function memberTrustPolicy(parameters: Record<string, string>): TrustPolicy {
  const { renderMemberTemplate } = createRequire(import.meta.url)("../../infra/cloudformation/member-account.cjs") as {
    renderMemberTemplate: () => { Resources: { CentralAccessRole: { Properties: { AssumeRolePolicyDocument: unknown } } } };
  };
  const resolve = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(resolve);
    if (v === null || typeof v !== "object") return v;
    const ref = (v as { Ref?: unknown }).Ref;
    if (typeof ref === "string") {
      if (parameters[ref] === undefined) throw new Error(`member-account template: no value for parameter ${ref}`);
      return parameters[ref];
    }
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, resolve(x)]));
  };
  return resolve(renderMemberTemplate().Resources.CentralAccessRole.Properties.AssumeRolePolicyDocument) as TrustPolicy;
}
const TRUST = memberTrustPolicy({ CentralRoleArn: CENTRAL_ROLE, ExternalId: EXTERNAL_ID });
const assumedArn = (role: string, session = "ecr-token-rotator") => `arn:aws:sts::${SPOKE_ACCOUNT}:assumed-role/${role.split("/").pop()}/${session}`;

let bed: Bed;
let moto: MotoServer;
let sts: StsTrustProxy;
let tokenNow: () => Date;
const issued: Array<{ accessKeyId: string; secretAccessKey: string; sessionToken: string; roleArn: string }> = [];
const saved = { ...process.env };

const quiet: Telemetry = { invocationStarted() {}, reportFinished() {}, reportRejected() {} };

function env(cluster: Record<string, unknown>): Record<string, string> {
  return productEnvForBed(bed, moto, {
    AWS_ENDPOINT_URL: sts.url,
    EKS_CLUSTERS: JSON.stringify([{ name: bed.clusterName, region: "us-east-1", endpoint: bed.proxyUrl, caData: bed.caData, ...cluster }]),
    TARGET_NAMESPACES: "spoke-a,spoke-b",
    EXCLUDE_NAMESPACES: "",
  });
}

async function heal(cluster: Record<string, unknown>): Promise<Report> {
  const app = createApp(env(cluster), { tokenNow, kubernetes: { apply: { retry: { baseDelayMs: 20, maxDelayMs: 100, maxRetryAfterMs: 500 } } } });
  try {
    return await createHandler(
      () => app,
      () => quiet,
    )({ action: "heal" });
  } catch (error) {
    const report = (error as { report?: Report }).report;
    if (report === undefined) throw error;
    return report;
  }
}

beforeAll(async () => {
  // The bed knows no identity of its own: only what the trust proxy registers at run time.
  [bed, moto] = await Promise.all([startBed({ rbacManifests: PRODUCT_MANIFESTS, defaultIdentities: false }), startMoto()]);
  sts = await startStsTrustProxy(moto.url, { [DEFAULT_IDENTITIES.rotator.accessKeyId]: CENTRAL_ROLE }, async (c) => {
    issued.push({ accessKeyId: c.accessKeyId, secretAccessKey: c.secretAccessKey, sessionToken: c.sessionToken, roleArn: c.roleArn });
    // The EKS access entry of the spoke role: any session of it, user = the session ARN (EKS's
    // default username), group ecr-token-rotator. The unmapped role has none.
    await bed.addIdentities({
      [c.accessKeyId]: {
        accessKeyId: c.accessKeyId,
        secretAccessKey: c.secretAccessKey,
        sessionToken: c.sessionToken,
        arn: c.roleArn,
        sessionName: c.sessionName,
        username: `arn:aws:sts::${SPOKE_ACCOUNT}:assumed-role/${c.roleArn.split("/").pop()}/{{SessionName}}`,
        groups: c.roleArn === SPOKE_ROLE ? ["ecr-token-rotator"] : [],
        unmapped: c.roleArn !== SPOKE_ROLE,
      },
    });
  });
  sts.trust(SPOKE_ROLE, TRUST);
  Object.assign(process.env, productEnvForBed(bed, moto, { AWS_ENDPOINT_URL: sts.url }));
  const data = (await new ECRClient({ region: "us-east-1" }).send(new GetAuthorizationTokenCommand({}))).authorizationData![0]!;
  const at = new Date(data.expiresAt!.getTime() - 11 * 3600_000);
  tokenNow = () => at;
  await bed.createNamespace("spoke-a");
  await bed.createNamespace("spoke-b");
}, 600_000);

afterAll(async () => {
  await Promise.all([bed?.stop(), moto?.stop(), sts?.stop()]);
  process.env = saved;
});

describe("a cluster in another account, reached through an assumed role", () => {
  it("the member-account template's trust policy admits the central role with the ExternalId, and nothing else", () => {
    expect(trustAllows(TRUST, CENTRAL_ROLE, EXTERNAL_ID)).toBe(true);
    expect(trustAllows(TRUST, CENTRAL_ROLE, undefined)).toBe(false);
    expect(trustAllows(TRUST, CENTRAL_ROLE, "not-the-right-id")).toBe(false);
    expect(trustAllows(TRUST, "arn:aws:iam::123456789012:role/another-function", EXTERNAL_ID)).toBe(false);
    expect(trustAllows(TRUST, undefined, EXTERNAL_ID)).toBe(false);
  });

  it("the heal writes the pull Secrets as the assumed role (ExternalId, session name, regional STS)", async () => {
    const before = sts.records.length;
    const report = await heal({ roleArn: SPOKE_ROLE, externalId: EXTERNAL_ID });
    expect(report.errors).toEqual([]);
    expect(report.ok).toBe(true);
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.namespaces.map((n) => `${n.namespace}:${n.outcome}`).sort()).toEqual(["spoke-a:created", "spoke-b:created"]);

    // The AssumeRole call: one, signed with the function's own credentials for us-east-1, carrying both.
    const calls = sts.records.slice(before);
    expect(calls).toEqual([
      {
        roleArn: SPOKE_ROLE,
        sessionName: "ecr-token-rotator",
        externalId: EXTERNAL_ID,
        signedRegion: "us-east-1",
        callerAccessKeyId: DEFAULT_IDENTITIES.rotator.accessKeyId,
        refused: false,
      },
    ]);
    // Every request the cluster authenticated came with the assumed role's credentials.
    const role = issued.at(-1)!;
    expect(role.accessKeyId).toMatch(/^ASIA/);
    for (const secret of [role.secretAccessKey, role.sessionToken]) expect(JSON.stringify(report)).not.toContain(secret);
    const decisions = (await bed.decisions()).filter((d) => d.authenticated);
    expect(decisions.length).toBeGreaterThan(0);
    expect(new Set(decisions.map((d) => `${d.accessKeyId} ${d.arn} ${d.username}`))).toEqual(
      new Set([`${role.accessKeyId} ${SPOKE_ROLE} ${assumedArn(SPOKE_ROLE)}`]),
    );
    // ... and the written Secret is there, with the registry's entry.
    const secret = JSON.parse((await bed.kubectl(["-n", "spoke-a", "get", "secret", "ecr-pull-secret", "-o", "json"], { check: true })).stdout);
    expect(Object.keys(JSON.parse(Buffer.from(secret.data[".dockerconfigjson"], "base64").toString()).auths)).toEqual([
      "123456789012.dkr.ecr.us-east-1.amazonaws.com",
    ]);
  });

  it("the token the product signs is accepted as the assumed role (SelfSubjectReview)", async () => {
    const cache = new AssumedRoleCache({ assume: sdkAssumeRole() });
    const access = await getAssumedClusterAccess(
      { name: bed.clusterName, region: "us-east-1", endpoint: bed.apiServerUrl, caData: bed.caData },
      { roleArn: SPOKE_ROLE, externalId: EXTERNAL_ID, sessionName: "hub-refresher", region: "us-east-1" },
      { cache, tokens: new EksTokenCache() },
    );
    const me = await whoami(bed, access.token);
    expect(me.status).toBe(201);
    expect(me.username).toBe(assumedArn(SPOKE_ROLE, "hub-refresher"));
    expect(me.groups).toContain("ecr-token-rotator");
    expect(me.extra?.arn).toEqual([assumedArn(SPOKE_ROLE, "hub-refresher")]);
    expect(access.identity.assumedRoleArn).toBe(assumedArn(SPOKE_ROLE, "hub-refresher"));
  });

  it("a wrong externalId is refused by the trust policy: the request carried it, the Report names the role", async () => {
    const before = sts.records.length;
    const report = await heal({ roleArn: SPOKE_ROLE, externalId: "not-the-right-id" });
    expect(report.ok).toBe(false);
    expect(sts.records.slice(before)).toEqual([expect.objectContaining({ roleArn: SPOKE_ROLE, externalId: "not-the-right-id", refused: true })]);
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.ok).toBe(false);
    expect(cluster.namespaces).toEqual([]);
    expect(cluster.error).toContain(
      `EKS cluster ${bed.clusterName} (us-east-1): sts:AssumeRole on ${SPOKE_ROLE} (session ecr-token-rotator, with the configured externalId) was refused (AccessDenied)`,
    );
    expect(cluster.error).toContain("with the condition sts:ExternalId equal to the configured externalId");
    expect(cluster.error).not.toContain("not-the-right-id");
  });

  it("a role the cluster does not map is refused, naming the role ARN the cluster saw", async () => {
    await bed.kubectl(["-n", "spoke-a", "delete", "secret", "ecr-pull-secret"], { check: true });
    const report = await heal({ roleArn: UNMAPPED_ROLE });
    expect(report.ok).toBe(false);
    const cluster = report.kubernetes!.clusters[0]!;
    expect(cluster.error).toContain("unauthorized (401)");
    expect(cluster.error).toContain(
      `the cluster refused the token of ${assumedArn(UNMAPPED_ROLE)} (assumed from ${UNMAPPED_ROLE}): no EKS access entry maps the role ${UNMAPPED_ROLE}`,
    );
    // the cluster's side: the signature was valid, the ARN not mapped
    const refusal = (await bed.decisions()).filter((d) => !d.authenticated).at(-1)!;
    expect(refusal.reason).toBe(`ARN is not mapped: ${assumedArn(UNMAPPED_ROLE)} (no access entry for ${UNMAPPED_ROLE})`);
    // nothing was written
    expect((await bed.kubectl(["-n", "spoke-a", "get", "secret", "ecr-pull-secret"])).code).not.toBe(0);
  });

  it("DescribeCluster runs as the assumed role: the cluster is found in the role's account only", async () => {
    // Create a cluster in the spoke account (moto scopes resources by the caller's account).
    const spoke = (
      await new STSClient({ region: "eu-west-1" }).send(new AssumeRoleCommand({ RoleArn: SPOKE_ROLE, RoleSessionName: "setup", ExternalId: EXTERNAL_ID }))
    ).Credentials!;
    const spokeEks = new EKSClient({
      region: "eu-west-1",
      credentials: { accessKeyId: spoke.AccessKeyId!, secretAccessKey: spoke.SecretAccessKey!, sessionToken: spoke.SessionToken! },
    });
    const created = await spokeEks.send(
      new CreateClusterCommand({
        name: "spoke-cluster",
        roleArn: `arn:aws:iam::${SPOKE_ACCOUNT}:role/eks`,
        resourcesVpcConfig: { subnetIds: ["subnet-11111111"] },
      }),
    );
    expect(created.cluster!.arn).toContain(`:${SPOKE_ACCOUNT}:cluster/spoke-cluster`);
    // With the function's own credentials it does not exist ...
    const own = await resolveClusterConnection(sdkDescribeCluster("eu-west-1"), { name: "spoke-cluster", region: "eu-west-1" }).catch(
      (e: unknown) => e as Error,
    );
    expect((own as Error).message).toMatch(/does not exist/);
    // ... as the assumed role it does (endpoint as moto reports it), and the request carried the ExternalId.
    const before = sts.records.length;
    const access = await getAssumedClusterAccess(
      { name: "spoke-cluster", region: "eu-west-1" },
      { roleArn: SPOKE_ROLE, externalId: EXTERNAL_ID, sessionName: "ecr-token-rotator", region: "eu-west-1" },
      { cache: new AssumedRoleCache({ assume: sdkAssumeRole() }), tokens: new EksTokenCache() },
    );
    expect(access.server).toBe(created.cluster!.endpoint!.replace(/\/+$/, ""));
    expect(sts.records.slice(before)).toEqual([
      expect.objectContaining({ roleArn: SPOKE_ROLE, externalId: EXTERNAL_ID, signedRegion: "eu-west-1", refused: false }),
    ]);
  });
});
