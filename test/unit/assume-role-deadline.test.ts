/**
 * Assumed-role credentials refreshed inside an SDK call (the EKS client's `credentials` callback,
 * which outlives invocations) are assumed within the deadline of that call: a hung STS endpoint
 * is cut at the invocation's deadline — its request gets the deadline's AbortSignal and budget,
 * not only the SDK's 10 s per-attempt timeout — and the cluster is reported `skipped: deadline`.
 * STS is a fake (aws-sdk-client-mock); EKS is the real SDK client, which never gets as far as
 * sending (its credentials never arrive).
 */
import { AssumeRoleCommand, STSClient } from "@aws-sdk/client-sts";
import { mockClient } from "aws-sdk-client-mock";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createKubernetesStep } from "../../src/clusters/step";
import { loadConfig } from "../../src/config/config";
import { AssumedRoleCache, sdkAssumeRole, type AssumeRoleRequest } from "../../src/eks/assume-role";
import { EksConnectionError, getAssumedClusterAccess } from "../../src/eks/connection";
import { EksTokenCache } from "../../src/eks/token-cache";
import { parseManualRequest } from "../../src/request/triggers";
import { deadlineIn, isDeadlineExceeded, type Deadline } from "../../src/shared/deadline";
import { SDK_REQUEST_TIMEOUT_MS } from "../../src/shared/sdk-call";

const SECRET_KEY = "deadline-refresh-secret-key-0123456789";
const SESSION_TOKEN = "deadline-refresh-session-token-IQoJb3JpZ2lu";
const saved = { ...process.env };
const sts = mockClient(STSClient);

beforeAll(() => {
  // EKS is never reached (the credentials never arrive); should it be, nothing answers here.
  Object.assign(process.env, { AWS_ENDPOINT_URL: "http://127.0.0.1:9", AWS_ACCESS_KEY_ID: "AKIAUNUSEDBYTHISTEST", AWS_SECRET_ACCESS_KEY: "unused" });
});
afterAll(() => {
  process.env = saved;
  sts.restore();
});
beforeEach(() => sts.reset());

/**
 * STS answers the first AssumeRole with credentials valid for one more minute (inside the
 * 5-minute refresh margin, so the next use refreshes them) and never answers the next.
 */
function stsThatHangsOnRefresh(): void {
  let call = 0;
  sts.on(AssumeRoleCommand).callsFake(async () => {
    call += 1;
    if (call > 1) return new Promise(() => undefined);
    return {
      Credentials: { AccessKeyId: "ASIADEADLINEREFRESH1", SecretAccessKey: SECRET_KEY, SessionToken: SESSION_TOKEN, Expiration: new Date(Date.now() + 60_000) },
      AssumedRoleUser: { Arn: "arn:aws:sts::222222222222:assumed-role/spoke/ecr-token-rotator", AssumedRoleId: "AROA:ecr-token-rotator" },
    };
  });
}

/** The per-call options the SDK's `send` got for each AssumeRole (abortSignal, requestTimeout). */
const stsCallOptions = () =>
  sts.commandCalls(AssumeRoleCommand).map((c) => (c.args as unknown[])[1] as { abortSignal?: AbortSignal; requestTimeout?: number } | undefined);

describe("assumed-role credentials refreshed by the SDK's credential callback", () => {
  it("the refresh's AssumeRole carries the invocation's deadline; a hung STS is cut there (not a cluster error), and nothing stays pending", async () => {
    stsThatHangsOnRefresh();
    const seen: Array<Deadline | undefined> = [];
    const assume = sdkAssumeRole();
    const cache = new AssumedRoleCache({ assume: (request, deadline) => (seen.push(deadline), assume(request, deadline)) });
    // A role of its own: the EKS client of this test is created here, with this cache.
    const request: AssumeRoleRequest = { roleArn: "arn:aws:iam::222222222222:role/spoke-refresh", sessionName: "ecr-token-rotator", region: "eu-west-1" };
    const deadline = deadlineIn(300);

    const error = await getAssumedClusterAccess({ name: "spoke", region: "eu-west-1" }, request, { cache, deadline, tokens: new EksTokenCache() }).catch(
      (e: unknown) => e,
    );
    expect(isDeadlineExceeded(error)).toBe(true);
    expect(error).not.toBeInstanceOf(EksConnectionError);
    // The first AssumeRole (before DescribeCluster) and the refresh inside DescribeCluster's credential callback.
    expect(seen).toHaveLength(2);
    expect(seen[0]).toBe(deadline);
    expect(seen[1]).toBe(deadline);
    const [, refresh] = stsCallOptions();
    expect(refresh?.abortSignal?.aborted).toBe(true);
    expect(refresh!.requestTimeout).toBeLessThan(SDK_REQUEST_TIMEOUT_MS);

    // The cut refresh is not left pending for the next invocation to join: a new AssumeRole is made.
    sts.reset();
    sts.on(AssumeRoleCommand).resolves({
      Credentials: {
        AccessKeyId: "ASIADEADLINEREFRESH2",
        SecretAccessKey: SECRET_KEY,
        SessionToken: SESSION_TOKEN,
        Expiration: new Date(Date.now() + 3600_000),
      },
    });
    expect((await cache.get(request, deadlineIn(10_000))).credentials.accessKeyId).toBe("ASIADEADLINEREFRESH2");
    expect(cache.calls).toBe(3);
  });

  it("through the Kubernetes step: the cluster is reported skipped: deadline", async () => {
    stsThatHangsOnRefresh();
    const config = loadConfig({
      AWS_REGION: "us-east-1",
      EKS_CLUSTERS: JSON.stringify([{ name: "spoke", region: "eu-west-1", roleArn: "arn:aws:iam::222222222222:role/spoke-step" }]),
      TARGET_NAMESPACES: "*",
    });
    const step = createKubernetesStep(config);
    const report = await step({ request: parseManualRequest({ action: "heal" }), credentials: [], reason: "heal", deadline: deadlineIn(300) });
    const cluster = report.clusters[0]!;
    expect(cluster).toMatchObject({ cluster: "spoke", ok: false, skipped: "deadline" });
    expect(cluster.error).toMatch(/skipped: deadline/);
    expect(JSON.stringify(report)).not.toContain(SECRET_KEY);
    expect(JSON.stringify(report)).not.toContain(SESSION_TOKEN);
    expect(sts.commandCalls(AssumeRoleCommand)).toHaveLength(2);
    expect(stsCallOptions()[1]?.abortSignal?.aborted).toBe(true);
  });
});
