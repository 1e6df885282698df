/**
 * The release artifact, deployed: `npm run package` output created with plain `aws cloudformation
 * deploy` in a local CloudFormation (LocalStack, in-process: test/support/localstack.ts), then
 * every resource checked through its own service's API (not CloudFormation's word for it:
 * LocalStack skips unsupported types silently) — the function with its environment and role, the
 * role's policies, the schedule and its target, the alarms and their actions, the invoke
 * permissions, the outputs; a second deploy with changed parameters updates in place.
 *
 * The third trigger through the deployed wiring: a Container Insights pull-failure datapoint for
 * the configured cluster; LocalStack's CloudWatch evaluates the deployed alarm and invokes the
 * deployed function through the alarm's action (the function runs in a local node process; its
 * own AWS calls go to moto, on a clock that makes moto's fixed ECR token fresh); the function's
 * Report says it healed on that alarm: the secret written, then the configured cluster.
 *
 * The member-account template is created too, its trust policy read back through IAM. EKS is not
 * among LocalStack's free services: the access entries are checked in the rendered template.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DescribeSecretCommand, SecretsManagerClient } from "@aws-sdk/client-secrets-manager";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyEvent } from "../../src/request/triggers";
import { startLocalStack, type InvocationRecord, type LocalStack } from "../support/localstack";
import { startMoto, type MotoServer } from "../support/moto";
import { waitFor } from "../support/ports";
import { REPO, run, type Json } from "./support";

const STACK = "ecr-token-rotator-cfn";
const MEMBER_STACK = "ecr-token-rotator-member";
const CLUSTER = "prod";
const ACCOUNT = "000000000000"; // LocalStack's default account
const REGION = "us-east-1";
const EXTERNAL_ID = "fleet-ext-7f3a";
/** libfaketime (Debian package faketime, installed by scripts/ensure-test-deps.sh). */
const FAKETIME_LIB = ["x86_64-linux-gnu", "aarch64-linux-gnu"].map((a) => `/usr/lib/${a}/faketime/libfaketimeMT.so.1`).find((p) => existsSync(p));

let localstack: LocalStack;
let moto: MotoServer;
const dir = mkdtempSync(join(tmpdir(), "ecr-rotator-cfn-"));
const timings: Record<string, number> = {};

async function aws(...args: string[]): Promise<Json> {
  const result = await run("aws", ["--endpoint-url", localstack.url, "--output", "json", ...args], { env: localstack.env(REGION), timeoutMs: 300_000 });
  if (result.code !== 0) throw new Error(`aws ${args.join(" ")} failed (${result.code}): ${result.stderr}${result.stdout}`);
  const text = result.stdout.trim();
  // deploy and s3 cp answer in prose
  return text.startsWith("{") || text.startsWith("[") ? JSON.parse(text) : { text };
}

async function timed<T>(name: string, work: () => Promise<T>): Promise<T> {
  const started = process.hrtime.bigint();
  try {
    return await work();
  } finally {
    timings[name] = Number(process.hrtime.bigint() - started) / 1e9;
  }
}

function deploy(stack: string, template: string, overrides: string[]): Promise<Json> {
  return aws(
    "cloudformation",
    "deploy",
    "--stack-name",
    stack,
    "--template-file",
    template,
    "--capabilities",
    "CAPABILITY_IAM",
    "CAPABILITY_NAMED_IAM",
    "--no-fail-on-empty-changeset",
    "--tags",
    "app=ecr-token-rotator",
    "--parameter-overrides",
    ...overrides,
  );
}

async function outputs(stack: string): Promise<Record<string, string>> {
  const described = await aws("cloudformation", "describe-stacks", "--stack-name", stack);
  return Object.fromEntries((described.Stacks[0].Outputs ?? []).map((o: Json) => [o.OutputKey, o.OutputValue]));
}

let template: Json;
let zipName: string;
let firstOutputs: Record<string, string>;
let functionArn: string;

beforeAll(async () => {
  if (FAKETIME_LIB === undefined) throw new Error("libfaketimeMT.so.1 not found: install the Debian package faketime (scripts/ensure-test-deps.sh)");
  moto = await startMoto();
  localstack = await timed("localstack start", () =>
    startLocalStack({
      // The function's own calls (ECR, Secrets Manager, EKS) go to moto, not to LocalStack.
      // moto's ECR token expired on a fixed date (2015-01-01): the function runs on a clock one
      // minute after that token was issued (libfaketime), so its rotation succeeds and the heal
      // goes on to the cluster.
      functionEnv: {
        AWS_ENDPOINT_URL: moto.url,
        AWS_ACCESS_KEY_ID: "testing",
        AWS_SECRET_ACCESS_KEY: "testing",
        AWS_SESSION_TOKEN: "testing",
        LD_PRELOAD: FAKETIME_LIB,
        FAKETIME: "@2014-12-31 12:01:00",
        FAKETIME_DONT_FAKE_MONOTONIC: "1",
      },
    }),
  );
  const out = join(dir, "dist");
  const packaged = await timed("npm run package", () =>
    run(process.execPath, [join(REPO, "scripts/package.mjs"), "--out", out, "--param", `eksClusters=${CLUSTER}`], { cwd: REPO }),
  );
  if (packaged.code !== 0) throw new Error(`npm run package failed: ${packaged.stderr}`);
  template = JSON.parse(readFileSync(join(out, "template.json"), "utf8"));
  zipName = template.Parameters.CodeKey.Default;
  await aws("s3api", "create-bucket", "--bucket", "artifacts");
  await aws("s3", "cp", join(out, zipName), `s3://artifacts/${zipName}`);

  // Image pulls failing in the cluster (Container Insights' metric) before the stack exists: the
  // alarm's first evaluation, at creation, sees them.
  const now = Math.floor(Date.now() / 1000);
  const datapoints = [20, 80, 140].map((ago) => ({
    MetricName: "pod_container_status_waiting_reason_image_pull_error",
    Dimensions: [{ Name: "ClusterName", Value: CLUSTER }],
    Value: 1,
    Timestamp: now - ago,
  }));
  await aws("cloudwatch", "put-metric-data", "--namespace", "ContainerInsights", "--metric-data", JSON.stringify(datapoints));

  await timed("create", () => deploy(STACK, join(out, "template.yaml"), ["CodeBucket=artifacts"]));
  firstOutputs = await outputs(STACK);
  functionArn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${STACK}-rotate`;
  writeFileSync(join(dir, "member.yaml"), readFileSync(join(out, "member-account.yaml")));
}, 600_000);

afterAll(async () => {
  console.log(`cfn deploy timings (s): ${JSON.stringify(Object.fromEntries(Object.entries(timings).map(([k, v]) => [k, Number(v.toFixed(1))])))}`);
  await localstack?.stop();
  await moto?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the standalone template, created with aws cloudformation deploy", () => {
  it("reaches CREATE_COMPLETE with every resource of the template, and its outputs", async () => {
    const described = await aws("cloudformation", "describe-stacks", "--stack-name", STACK);
    expect(described.Stacks[0].StackStatus).toBe("CREATE_COMPLETE");
    const resources = await aws("cloudformation", "list-stack-resources", "--stack-name", STACK);
    const created = Object.fromEntries(resources.StackResourceSummaries.map((r: Json) => [r.LogicalResourceId, r.ResourceStatus]));
    expect(Object.keys(created).sort()).toEqual(Object.keys(template.Resources).sort());
    expect(Object.values(created).every((s) => s === "CREATE_COMPLETE")).toBe(true);
    expect(firstOutputs).toMatchObject({
      RotateFunctionName: `${STACK}-rotate`,
      AlertTopicArn: `arn:aws:sns:${REGION}:${ACCOUNT}:${STACK}-alerts`,
      PullFailureAlarmNames: `${STACK}-image-pull-${CLUSTER}`,
    });
    expect(firstOutputs.RotateFunctionRoleArn).toMatch(new RegExp(`^arn:aws:iam::${ACCOUNT}:role/`));
    expect(firstOutputs.FailureQueueUrl).toContain(`${STACK}-failures`);
    expect(JSON.parse(firstOutputs.CrossAccountRepositoryPolicy!).Statement[0].Principal.AWS).toBe(firstOutputs.RotateFunctionRoleArn);
  });

  it("the function: runtime, handler, memory, environment from the parameters, its role, concurrency 1, async retries to the queue", async () => {
    const config = await aws("lambda", "get-function-configuration", "--function-name", `${STACK}-rotate`);
    expect(config).toMatchObject({
      Runtime: "nodejs22.x",
      Handler: "handlers/rotate.handler",
      MemorySize: 256,
      Timeout: 300,
      Role: firstOutputs.RotateFunctionRoleArn,
    });
    expect(config.Environment.Variables).toMatchObject({
      SECRET_NAME: "ecr/{account}/{region}/credentials",
      EKS_CLUSTERS: CLUSTER,
      FALLBACK_MODE: "on-heal",
      PULL_SECRET_NAME: "ecr-pull-secret",
      POWERTOOLS_METRICS_NAMESPACE: "EcrTokenRotator",
    });
    // LocalStack's CloudFormation does not apply ReservedConcurrentExecutions (its Lambda resource
    // provider ignores it): the one run at a time is checked in the template.
    expect(template.Resources.RotateLambdaFunction.Properties.ReservedConcurrentExecutions).toBe(1);
    const invokeConfig = await aws("lambda", "get-function-event-invoke-config", "--function-name", `${STACK}-rotate`);
    expect(invokeConfig).toMatchObject({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 });
    expect(invokeConfig.DestinationConfig.OnFailure.Destination).toBe(`arn:aws:sqs:${REGION}:${ACCOUNT}:${STACK}-failures`);
  });

  it("the role: trusted by Lambda, its policy with the exact secret ARNs and the ownership-tag condition, resolved", async () => {
    const roleName = firstOutputs.RotateFunctionRoleArn!.split("/").pop()!;
    const role = await aws("iam", "get-role", "--role-name", roleName);
    const trust = typeof role.Role.AssumeRolePolicyDocument === "string" ? JSON.parse(role.Role.AssumeRolePolicyDocument) : role.Role.AssumeRolePolicyDocument;
    expect(trust.Statement[0].Principal.Service).toEqual(["lambda.amazonaws.com"]);
    const names = (await aws("iam", "list-role-policies", "--role-name", roleName)).PolicyNames;
    expect(names).toEqual([`${STACK}-lambda`]);
    const policy = (await aws("iam", "get-role-policy", "--role-name", roleName, "--policy-name", names[0])).PolicyDocument;
    const bySid = Object.fromEntries(policy.Statement.filter((s: Json) => s.Sid).map((s: Json) => [s.Sid, s]));
    const secret = `arn:aws:secretsmanager:${REGION}:${ACCOUNT}:secret:ecr/${ACCOUNT}/${REGION}/credentials-??????`;
    expect([bySid.OwnSecrets.Resource].flat()).toEqual([secret]);
    expect(bySid.CreateOwnSecrets.Condition).toEqual({ StringEquals: { "aws:RequestTag/ecr-token-rotator:managed": "true" } });
    expect([bySid.DescribeFallbackClusters.Resource].flat()).toEqual([`arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${CLUSTER}`]);
    expect(bySid.EcrAuthorizationToken.Resource).toBe("*");
  });

  it("the schedule: rate(10 hours), enabled, targeting the function through its own role, with the schedule input", async () => {
    const schedule = await aws("scheduler", "get-schedule", "--name", `${STACK}-rotate`);
    expect(schedule).toMatchObject({ ScheduleExpression: "rate(10 hours)", State: "ENABLED" });
    expect(schedule.Target.Arn).toBe(functionArn);
    expect(schedule.Target.RoleArn).toMatch(new RegExp(`^arn:aws:iam::${ACCOUNT}:role/.*RotateScheduleRole`));
    expect(classifyEvent(JSON.parse(schedule.Target.Input))).toMatchObject({ kind: "run", request: { action: "rotate", trigger: { kind: "schedule" } } });
  });

  it("the alarms and their actions: pull failures of the cluster and freshness invoke the function, all notify the topic", async () => {
    const alarms = Object.fromEntries(
      (await aws("cloudwatch", "describe-alarms", "--alarm-name-prefix", STACK)).MetricAlarms.map((a: Json) => [a.AlarmName, a]),
    );
    const topic = firstOutputs.AlertTopicArn;
    expect(Object.keys(alarms).sort()).toEqual([
      `${STACK}-errors`,
      `${STACK}-failed-invocations`,
      `${STACK}-image-pull-${CLUSTER}`,
      `${STACK}-token-freshness`,
    ]);
    const pull = alarms[`${STACK}-image-pull-${CLUSTER}`];
    expect(pull).toMatchObject({
      Namespace: "ContainerInsights",
      MetricName: "pod_container_status_waiting_reason_image_pull_error",
      Period: 60,
      EvaluationPeriods: 3,
      DatapointsToAlarm: 2,
    });
    expect(pull.Dimensions).toEqual([{ Name: "ClusterName", Value: CLUSTER }]);
    expect(pull.AlarmActions).toEqual([functionArn, topic]);
    expect(alarms[`${STACK}-token-freshness`].AlarmActions).toEqual([functionArn, topic]);
    expect(alarms[`${STACK}-errors`].AlarmActions).toEqual([topic]);
    expect(alarms[`${STACK}-failed-invocations`].Dimensions).toEqual([{ Name: "QueueName", Value: `${STACK}-failures` }]);
  });

  it("the invoke permissions: each alarm that invokes the function may, by its own ARN", async () => {
    const policy = JSON.parse((await aws("lambda", "get-policy", "--function-name", `${STACK}-rotate`)).Policy);
    const alarmSources = policy.Statement.filter((s: Json) => s.Principal?.Service === "lambda.alarms.cloudwatch.amazonaws.com").map(
      (s: Json) => s.Condition.ArnLike["AWS:SourceArn"],
    );
    expect(alarmSources.sort()).toEqual(
      [`${STACK}-image-pull-${CLUSTER}`, `${STACK}-token-freshness`].map((n) => `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${n}`).sort(),
    );
  });

  it("the third trigger: the pull-failure datapoint puts the alarm into ALARM, whose action invokes the function, which heals on it", async () => {
    const alarmName = `${STACK}-image-pull-${CLUSTER}`;
    let record: InvocationRecord | undefined;
    await waitFor(
      "the alarm's invocation of the function",
      async () => {
        record = localstack.invocations().find((r) => (r.event as Json)?.alarmData?.alarmName === alarmName);
        return record !== undefined;
      },
      240_000,
      500,
    );
    const event = record!.event as Json;
    // What the function received: the alarm action's payload, for this cluster's metric.
    expect(event).toMatchObject({ source: "aws.cloudwatch", alarmArn: `arn:aws:cloudwatch:${REGION}:${ACCOUNT}:alarm:${alarmName}` });
    expect(event.alarmData.state.value).toBe("ALARM");
    expect(event.alarmData.configuration.metrics[0].metricStat.metric.dimensions).toEqual([{ Name: "ClusterName", Value: CLUSTER }]);
    // What it made of it: its summary log line carries the Report — a heal, triggered by this alarm's action.
    const summary = record!.logs
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l))
      .find((l) => l.message === "invocation summary");
    expect(summary, record!.logs).toBeDefined();
    expect(classifyEvent(event)).toMatchObject({ kind: "run", request: { action: "heal", trigger: { alarmClusters: [CLUSTER] } } });
    expect(summary.report).toMatchObject({
      action: "heal",
      trigger: { kind: "alarm", via: "alarm-action", alarmName, alarmState: "ALARM", alarmClusters: [CLUSTER] },
    });
    // The heal ran: a fresh token into Secrets Manager (moto), then the configured cluster —
    // which moto does not have, so that cluster's row says why it could not be reached.
    expect(summary.report.registries).toMatchObject([{ secretName: "ecr/123456789012/us-east-1/credentials", outcome: "created" }]);
    expect(summary.report.kubernetes.mode).toBe("applied");
    expect(summary.report.kubernetes.clusters).toMatchObject([{ cluster: CLUSTER, ok: false }]);
    expect(summary.report.kubernetes.clusters[0].error).toMatch(/EKS cluster prod \(us-east-1\) does not exist/);
    expect(JSON.stringify(summary)).not.toMatch(/password|authorizationToken|"auth"/i);
    const secret = await new SecretsManagerClient({
      region: REGION,
      endpoint: moto.url,
      credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
    }).send(new DescribeSecretCommand({ SecretId: "ecr/123456789012/us-east-1/credentials" }));
    expect(secret.Tags).toContainEqual({ Key: "ecr-token-rotator:managed", Value: "true" });
    const alarm = (await aws("cloudwatch", "describe-alarms", "--alarm-names", alarmName)).MetricAlarms[0];
    expect(alarm.StateValue).toBe("ALARM");
  });

  it("a second deploy with changed parameters updates the stack in place", async () => {
    const roleBefore = firstOutputs.RotateFunctionRoleArn;
    await timed("update", () =>
      // (Not ScheduleEnabled: LocalStack's AWS::Scheduler::Schedule has no update handler.)
      deploy(STACK, join(dir, "dist", "template.yaml"), [
        "CodeBucket=artifacts",
        "MemorySize=512",
        "FallbackMode=always",
        "TargetNamespaces=team-a,team-b",
        "LogRetentionDays=14",
      ]),
    );
    const described = await aws("cloudformation", "describe-stacks", "--stack-name", STACK);
    expect(described.Stacks[0].StackStatus).toBe("UPDATE_COMPLETE");
    const config = await aws("lambda", "get-function-configuration", "--function-name", `${STACK}-rotate`);
    expect(config.MemorySize).toBe(512);
    expect(config.FunctionArn).toBe(functionArn);
    expect(config.Environment.Variables).toMatchObject({ FALLBACK_MODE: "always", TARGET_NAMESPACES: "team-a,team-b", EKS_CLUSTERS: CLUSTER });
    const events = (await aws("cloudformation", "describe-stack-events", "--stack-name", STACK)).StackEvents as Json[];
    // In place: the function was updated, not replaced (no second CREATE of it).
    expect(events.filter((e) => e.LogicalResourceId === "RotateLambdaFunction" && e.ResourceStatus === "CREATE_COMPLETE")).toHaveLength(1);
    expect(events.some((e) => e.LogicalResourceId === "RotateLambdaFunction" && e.ResourceStatus === "UPDATE_COMPLETE")).toBe(true);
    expect((await outputs(STACK)).RotateFunctionRoleArn).toBe(roleBefore);
  });
});

describe("the member-account template, created in the same CloudFormation", () => {
  it("creates the role the central function assumes: its role ARN as the principal, the ExternalId required", async () => {
    await timed("member create", () =>
      deploy(MEMBER_STACK, join(dir, "member.yaml"), [
        `CentralRoleArn=${firstOutputs.RotateFunctionRoleArn}`,
        `ExternalId=${EXTERNAL_ID}`,
        `Cluster1=${CLUSTER}`,
        "Cluster2=stage",
      ]),
    );
    const roleArn = (await outputs(MEMBER_STACK)).RoleArn!;
    expect(roleArn).toBe(`arn:aws:iam::${ACCOUNT}:role/ecr-token-rotator-member`);
    const role = (await aws("iam", "get-role", "--role-name", "ecr-token-rotator-member")).Role;
    const trust = typeof role.AssumeRolePolicyDocument === "string" ? JSON.parse(role.AssumeRolePolicyDocument) : role.AssumeRolePolicyDocument;
    expect(trust.Statement).toEqual([
      {
        Sid: "CentralFunction",
        Effect: "Allow",
        Principal: { AWS: firstOutputs.RotateFunctionRoleArn },
        Action: "sts:AssumeRole",
        Condition: { StringEquals: { "sts:ExternalId": EXTERNAL_ID } },
      },
    ]);
    const policy = (await aws("iam", "get-role-policy", "--role-name", "ecr-token-rotator-member", "--policy-name", "describe-served-clusters")).PolicyDocument;
    expect(policy.Statement[0]).toMatchObject({ Action: "eks:DescribeCluster" });
    expect([policy.Statement[0].Resource].flat()).toEqual([CLUSTER, "stage"].map((c) => `arn:aws:eks:${REGION}:${ACCOUNT}:cluster/${c}`));
  });
});
