/**
 * serverless.yml, proven offline: `osls package` (dummy credentials, no network) produces the
 * CloudFormation template and the Lambda zip; cfn-lint passes on the template; the template has
 * the schedule, the alarm paths, the failure handling and least-privilege IAM; the zip holds a
 * self-contained bundle of the real handler that loads and runs.
 *
 * Two packagings: the defaults (rotation only), and a full production-like set of parameters
 * (clusters, KMS key, VPC, external alarms, access entries, another schedule rate).
 */
import { readdirSync, readFileSync } from "node:fs";
import { builtinModules, createRequire } from "node:module";
import { join } from "node:path";
import { build } from "esbuild";
import { load } from "js-yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { classifyEvent } from "../../src/request/triggers";
import { motoEnv, startMoto, type MotoServer } from "../support/moto";
import {
  asArray,
  cfnLint,
  matchesPattern,
  packageService,
  REPO,
  roleStatements,
  run,
  scratch,
  unzip,
  type CfnTemplate,
  type Json,
  type LintMatch,
  type Packaged,
} from "./support";

const stack = createRequire(import.meta.url)("../../infra/serverless/stack.cjs");

const FN = "RotateLambdaFunction";
const FN_ARN = { "Fn::GetAtt": [FN, "Arn"] };
const ROLE = "IamRoleLambdaExecution";

const KMS_KEY = "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
const FULL_PARAMS = {
  ecrRegistries: "123456789012.dkr.ecr.eu-west-1.amazonaws.com,210987654321.dkr.ecr.us-east-1.amazonaws.com",
  pullRepositories: "team-a/,base",
  pullThroughCachePrefixes: "docker-hub",
  secretName: "platform/ecr/{account}/{region}",
  combinedSecretName: "platform/ecr/all",
  kmsKeyArn: KMS_KEY,
  eksClusters: "prod-a,us-east-1:prod-b,eu-west-1:stage_c",
  fallbackMode: "always",
  kubeClient: "client-node",
  esoResync: "ecr-token-rotator/resync=true",
  createEksAccessEntries: "true",
  healAlarmNames: "platform-image-pull-errors,legacy-imagepullbackoff",
  scheduleRate: "rate(6 hours)",
  freshnessWindowHours: "7",
  alertEmail: "oncall@example.com",
  vpcSubnetIds: "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
  vpcSecurityGroupIds: "sg-0123456789abcdef0",
};

const ENV_VARS = [
  "ECR_REGISTRIES",
  "SECRET_NAME",
  "COMBINED_SECRET_NAME",
  "KMS_KEY_ID",
  "SECRET_TAGS",
  "ADOPT_EXISTING_SECRET",
  "TOKEN_MIN_VALIDITY_MINUTES",
  "WRITE_DEBOUNCE_SECONDS",
  "SECRET_READERS",
  "SECRET_REPLICA_REGIONS",
  "PROBE_IMAGE",
  "EKS_CLUSTERS",
  "FALLBACK_MODE",
  "TARGET_NAMESPACES",
  "NAMESPACE_SELECTOR",
  "EXCLUDE_NAMESPACES",
  "PULL_SECRET_NAME",
  "PATCH_SERVICE_ACCOUNTS",
  "ESO_RESYNC",
  "KUBE_CONCURRENCY",
  "KUBE_CLUSTER_CONCURRENCY",
  "ADOPT_EXISTING_PULL_SECRETS",
  "RESTART_STUCK_PODS",
  "RESTART_MAX_PODS",
  "RECORD_EVENTS",
  "KUBE_CLIENT",
  "POWERTOOLS_SERVICE_NAME",
  "POWERTOOLS_METRICS_NAMESPACE",
];

const work = scratch("ecr-rotator-deploy-");
let base: Packaged;
let full: Packaged;
let lint: { base: LintMatch[]; full: LintMatch[] };

beforeAll(async () => {
  // One at a time: two esbuild runs at once only slow each other down on a small machine.
  base = await packageService(work.dir, { stage: "test", region: "us-east-1" });
  full = await packageService(work.dir, { stage: "prod", region: "eu-west-1", params: FULL_PARAMS });
  lint = { base: await cfnLint(base.templatePath, "us-east-1"), full: await cfnLint(full.templatePath, "eu-west-1") };
  console.log(
    `osls package: ${base.seconds.toFixed(1)} s (defaults), ${full.seconds.toFixed(1)} s (full); ` +
      `zip ${base.zipBytes} bytes; cfn-lint findings: ${lint.base.length} / ${lint.full.length}`,
  );
});
afterAll(() => work.cleanup());

function resourcesOfType(template: CfnTemplate, type: string): [string, Json][] {
  return Object.entries(template.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties]);
}

function props(template: CfnTemplate, id: string, type: string): Json {
  const resource = template.Resources[id];
  expect(resource, `resource ${id}`).toBeDefined();
  expect(resource!.Type).toBe(type);
  return resource!.Properties;
}

const alarmsInvokingFunction = (t: CfnTemplate) =>
  resourcesOfType(t, "AWS::CloudWatch::Alarm").filter(([, p]) => asArray(p.AlarmActions).some((a: Json) => JSON.stringify(a) === JSON.stringify(FN_ARN)));

describe("osls package + cfn-lint", () => {
  it("packages offline and cfn-lint reports no errors (defaults and full parameters)", () => {
    const errors = [...lint.base, ...lint.full].filter((m) => m.Level === "Error");
    expect(errors.map((m) => `${m.Rule.Id} ${m.Message} at ${m.Location.Path.join(".")}`)).toEqual([]);
    expect(base.output).toMatch(/Service packaged/);
  });

  it("has no cfn-lint warnings either", () => {
    const warnings = [...lint.base, ...lint.full].filter((m) => m.Level === "Warning");
    expect(warnings.map((m) => `${m.Rule.Id} ${m.Message}`)).toEqual([]);
  });
});

describe("the function", () => {
  it("runs nodejs22.x on arm64 with reserved concurrency 1, the real handler and log retention", () => {
    const fn = props(base.template, FN, "AWS::Lambda::Function");
    expect(fn.Runtime).toBe("nodejs22.x");
    expect(fn.Architectures).toEqual(["arm64"]);
    expect(fn.Handler).toBe("handlers/rotate.handler");
    expect(fn.MemorySize).toBe(256);
    expect(fn.Timeout).toBeGreaterThanOrEqual(60);
    expect(fn.ReservedConcurrentExecutions).toBe(1);
    expect(fn.VpcConfig).toBeUndefined();
    expect(props(base.template, "RotateLogGroup", "AWS::Logs::LogGroup").RetentionInDays).toBe(30);
  });

  it("gets every configuration variable from the stage parameters", () => {
    const env = props(base.template, FN, "AWS::Lambda::Function").Environment.Variables;
    expect(Object.keys(env).sort()).toEqual([...ENV_VARS].sort());
    // …which is every variable the configuration reads (AWS_* come from Lambda itself).
    const source = readdirSync(join(REPO, "src"), { recursive: true, encoding: "utf8" })
      .filter((f) => f.endsWith(".ts"))
      .map((f) => readFileSync(join(REPO, "src", f), "utf8"))
      .join("\n");
    const read = new Set([...source.matchAll(/reader\.\w+\("([A-Z0-9_]+)"/g)].map((m) => m[1]!).filter((v) => !v.startsWith("AWS_")));
    expect(read.size).toBeGreaterThan(10);
    for (const variable of read) expect(Object.keys(env), variable).toContain(variable);
    expect(env.POWERTOOLS_SERVICE_NAME).toBe("ecr-token-rotator");
    expect(env.POWERTOOLS_METRICS_NAMESPACE).toBe("EcrTokenRotator");
    expect(env.SECRET_NAME).toBe("ecr/{account}/{region}/credentials");
    expect(env.FALLBACK_MODE).toBe("on-heal");

    const fullEnv = props(full.template, FN, "AWS::Lambda::Function").Environment.Variables;
    expect(fullEnv).toMatchObject({
      ECR_REGISTRIES: FULL_PARAMS.ecrRegistries,
      SECRET_NAME: FULL_PARAMS.secretName,
      COMBINED_SECRET_NAME: FULL_PARAMS.combinedSecretName,
      KMS_KEY_ID: KMS_KEY,
      EKS_CLUSTERS: FULL_PARAMS.eksClusters,
      FALLBACK_MODE: "always",
      KUBE_CLIENT: "client-node",
      ESO_RESYNC: FULL_PARAMS.esoResync,
    });
  });

  it("attaches to the VPC only when subnets and security groups are given", () => {
    const fn = props(full.template, FN, "AWS::Lambda::Function");
    expect(fn.VpcConfig).toEqual({ SubnetIds: FULL_PARAMS.vpcSubnetIds.split(","), SecurityGroupIds: [FULL_PARAMS.vpcSecurityGroupIds] });
  });
});

describe("triggers", () => {
  it("schedules rate(10 hours) through EventBridge Scheduler with the schedule request as input", () => {
    const schedule = props(base.template, "RotateSchedule", "AWS::Scheduler::Schedule");
    expect(schedule.ScheduleExpression).toBe("rate(10 hours)");
    expect(schedule.State).toBe("ENABLED");
    expect(schedule.FlexibleTimeWindow).toEqual({ Mode: "OFF" });
    expect(schedule.Target.Arn).toEqual(FN_ARN);
    expect(JSON.parse(schedule.Target.Input)).toEqual({ action: "rotate", source: "schedule" });
    // The function itself reads that input as a scheduled rotation.
    const classified = classifyEvent(JSON.parse(schedule.Target.Input));
    expect(classified).toMatchObject({ kind: "run", request: { action: "rotate", trigger: { kind: "schedule" }, force: false, dryRun: false } });

    expect(props(full.template, "RotateSchedule", "AWS::Scheduler::Schedule").ScheduleExpression).toBe("rate(6 hours)");
  });

  it("invokes through a role of its own that may only invoke this function", () => {
    const schedule = props(base.template, "RotateSchedule", "AWS::Scheduler::Schedule");
    expect(schedule.Target.RoleArn).toEqual({ "Fn::GetAtt": ["RotateScheduleRole", "Arn"] });
    const role = props(base.template, "RotateScheduleRole", "AWS::IAM::Role");
    expect(role.AssumeRolePolicyDocument.Statement.map((s: Json) => s.Principal.Service)).toEqual(["scheduler.amazonaws.com"]);
    const statements = roleStatements(base.template, "RotateScheduleRole");
    expect(statements.flatMap((s) => asArray(s.Action))).toEqual(["lambda:InvokeFunction"]);
    expect(statements.flatMap((s) => asArray(s.Resource))).toEqual([FN_ARN, { "Fn::Sub": "${RotateLambdaFunction.Arn}:*" }]);
    // …and the function's own role can neither be assumed by the scheduler nor invoke anything.
    const fnRole = props(base.template, ROLE, "AWS::IAM::Role");
    expect(JSON.stringify(fnRole.AssumeRolePolicyDocument)).not.toContain("scheduler.amazonaws.com");
    expect(roleStatements(base.template, ROLE).flatMap((s) => asArray(s.Action))).not.toContain("lambda:InvokeFunction");
  });

  it("lets CloudWatch alarms invoke the function directly, each alarm by its own ARN", () => {
    for (const template of [base.template, full.template]) {
      const invoking = alarmsInvokingFunction(template);
      expect(invoking.length).toBeGreaterThan(0);
      const permissions = resourcesOfType(template, "AWS::Lambda::Permission").filter(([, p]) => p.Principal === "lambda.alarms.cloudwatch.amazonaws.com");
      for (const [alarmId] of invoking) {
        const permission = permissions.find(([, p]) => JSON.stringify(p.SourceArn) === JSON.stringify({ "Fn::GetAtt": [alarmId, "Arn"] }));
        expect(permission, `invoke permission for ${alarmId}`).toBeDefined();
        expect(permission![1]).toMatchObject({ Action: "lambda:InvokeFunction", FunctionName: FN_ARN, SourceAccount: { Ref: "AWS::AccountId" } });
      }
      // No permission is broader than one alarm.
      for (const [, p] of permissions) expect(p.SourceArn["Fn::GetAtt"]?.[1]).toBe("Arn");
    }
  });

  it("has one Container Insights pull-failure alarm per cluster of the stack's region, wired to the function", () => {
    expect(resourcesOfType(base.template, "AWS::CloudWatch::Alarm").filter(([, p]) => p.Namespace === "ContainerInsights")).toEqual([]);

    const pull = resourcesOfType(full.template, "AWS::CloudWatch::Alarm").filter(([, p]) => p.Namespace === "ContainerInsights");
    // prod-a (no region: the stack's), stage_c (eu-west-1); not prod-b (us-east-1: another region's metrics).
    expect(pull.map(([, p]) => p.Dimensions)).toEqual([[{ Name: "ClusterName", Value: "prod-a" }], [{ Name: "ClusterName", Value: "stage_c" }]]);
    for (const [, p] of pull) {
      expect(p).toMatchObject({
        MetricName: "pod_container_status_waiting_reason_image_pull_error",
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        Threshold: 1,
        TreatMissingData: "notBreaching",
      });
      expect(p.AlarmActions).toContainEqual(FN_ARN);
      expect(p.AlarmActions).toContainEqual({ Ref: "AlertTopic" });
      // What CloudWatch sends on the transition is a heal of that cluster.
      const event = {
        source: "aws.cloudwatch",
        alarmArn: `arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${p.AlarmName}`,
        accountId: "123456789012",
        time: "2026-11-24T08:00:00.000+0000",
        region: "eu-west-1",
        alarmData: {
          alarmName: p.AlarmName,
          state: { value: "ALARM", reason: "Threshold Crossed", timestamp: "2026-11-24T08:00:00.000+0000" },
          previousState: { value: "OK", reason: "", timestamp: "2026-11-24T07:00:00.000+0000" },
          configuration: {
            metrics: [
              {
                id: "m1",
                metricStat: {
                  metric: { namespace: p.Namespace, name: p.MetricName, dimensions: { ClusterName: p.Dimensions[0].Value } },
                  period: 60,
                  stat: "Maximum",
                },
                returnData: true,
              },
            ],
          },
        },
      };
      expect(classifyEvent(event)).toMatchObject({
        kind: "run",
        request: { action: "heal", trigger: { kind: "alarm", alarmClusters: [p.Dimensions[0].Value] } },
      });
    }
  });

  it("routes the configured external alarms through an EventBridge rule: state changes into ALARM only", () => {
    // With no external alarm names the rule is absent: the stack's own alarms invoke directly,
    // and one alarm must not heal twice.
    expect(resourcesOfType(base.template, "AWS::Events::Rule")).toEqual([]);

    const rule = props(full.template, "HealAlarmRule", "AWS::Events::Rule");
    expect(rule.EventPattern).toEqual({
      source: ["aws.cloudwatch"],
      "detail-type": ["CloudWatch Alarm State Change"],
      detail: { alarmName: ["platform-image-pull-errors", "legacy-imagepullbackoff"], state: { value: ["ALARM"] } },
    });
    expect(rule.Targets.map((t: Json) => t.Arn)).toEqual([FN_ARN]);
    const event = (alarmName: string, state: string) => ({
      version: "0",
      id: "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92",
      "detail-type": "CloudWatch Alarm State Change",
      source: "aws.cloudwatch",
      account: "123456789012",
      time: "2026-11-24T08:00:00Z",
      region: "eu-west-1",
      resources: [`arn:aws:cloudwatch:eu-west-1:123456789012:alarm:${alarmName}`],
      detail: {
        alarmName,
        state: { value: state, reason: "r", timestamp: "t" },
        previousState: { value: "OK", reason: "r", timestamp: "t" },
        configuration: { metrics: [] },
      },
    });
    expect(matchesPattern(rule.EventPattern, event("legacy-imagepullbackoff", "ALARM"))).toBe(true);
    expect(matchesPattern(rule.EventPattern, event("legacy-imagepullbackoff", "OK"))).toBe(false);
    expect(matchesPattern(rule.EventPattern, event("someone-elses-alarm", "ALARM"))).toBe(false);
    expect(classifyEvent(event("legacy-imagepullbackoff", "ALARM"))).toMatchObject({ kind: "run", request: { action: "heal" } });

    const permission = props(full.template, "HealAlarmRuleInvokePermission", "AWS::Lambda::Permission");
    expect(permission).toEqual({
      Action: "lambda:InvokeFunction",
      FunctionName: FN_ARN,
      Principal: "events.amazonaws.com",
      SourceArn: { "Fn::GetAtt": ["HealAlarmRule", "Arn"] },
    });
  });
});

describe("failure handling and alarms", () => {
  it("bounds async retries and event age, and sends failed invocations to an SQS queue with a depth alarm", () => {
    for (const template of [base.template, full.template]) {
      const config = props(template, "RotateLambdaEvConf", "AWS::Lambda::EventInvokeConfig");
      expect(config.FunctionName).toEqual({ Ref: FN });
      expect(config.MaximumRetryAttempts).toBe(2);
      expect(config.MaximumEventAgeInSeconds).toBeGreaterThanOrEqual(60);
      expect(config.MaximumEventAgeInSeconds).toBeLessThanOrEqual(21600);
      expect(config.DestinationConfig.OnFailure.Destination).toEqual({ "Fn::GetAtt": ["RotateFailureQueue", "Arn"] });
      props(template, "RotateFailureQueue", "AWS::SQS::Queue");

      const depth = resourcesOfType(template, "AWS::CloudWatch::Alarm").filter(([, p]) => p.Namespace === "AWS/SQS");
      expect(depth).toHaveLength(1);
      expect(depth[0]![1]).toMatchObject({
        MetricName: "ApproximateNumberOfMessagesVisible",
        Dimensions: [{ Name: "QueueName", Value: { "Fn::GetAtt": ["RotateFailureQueue", "QueueName"] } }],
        ComparisonOperator: "GreaterThanOrEqualToThreshold",
        Threshold: 1,
        AlarmActions: [{ Ref: "AlertTopic" }],
      });
      // Undeliverable schedule invocations land in the same queue; only that schedule may send.
      const schedule = props(template, "RotateSchedule", "AWS::Scheduler::Schedule");
      expect(schedule.Target.DeadLetterConfig.Arn).toEqual({ "Fn::GetAtt": ["RotateFailureQueue", "Arn"] });
      const queuePolicy = props(template, "RotateFailureQueuePolicy", "AWS::SQS::QueuePolicy");
      expect(queuePolicy.PolicyDocument.Statement).toEqual([
        expect.objectContaining({
          Principal: { Service: "scheduler.amazonaws.com" },
          Action: "sqs:SendMessage",
          Condition: { ArnEquals: { "aws:SourceArn": { "Fn::GetAtt": ["RotateSchedule", "Arn"] } } },
        }),
      ]);
    }
  });

  it("notifies through a topic CloudWatch alarms can publish to (not under the AWS-managed aws/sns key)", () => {
    const topic = props(base.template, "AlertTopic", "AWS::SNS::Topic");
    expect(topic.KmsMasterKeyId).not.toBe("alias/aws/sns");
    const policy = props(base.template, "AlertTopicPolicy", "AWS::SNS::TopicPolicy");
    expect(policy.PolicyDocument.Statement).toEqual([
      expect.objectContaining({ Principal: { Service: "cloudwatch.amazonaws.com" }, Action: "sns:Publish", Resource: { Ref: "AlertTopic" } }),
    ]);
    expect(props(full.template, "AlertEmailSubscription", "AWS::SNS::Subscription")).toEqual({
      TopicArn: { Ref: "AlertTopic" },
      Protocol: "email",
      Endpoint: "oncall@example.com",
    });
    expect(base.template.Resources.AlertEmailSubscription).toBeUndefined();
  });

  it("alarms on the function's errors", () => {
    const [errors] = resourcesOfType(base.template, "AWS::CloudWatch::Alarm").filter(([, p]) => p.Namespace === "AWS/Lambda");
    expect(errors![1]).toMatchObject({
      MetricName: "Errors",
      Dimensions: [{ Name: "FunctionName", Value: { Ref: FN } }],
      Statistic: "Sum",
      Threshold: 1,
      ComparisonOperator: "GreaterThanOrEqualToThreshold",
      AlarmActions: [{ Ref: "AlertTopic" }],
    });
  });

  it("alarms (and heals) when no rotation reported a long-lived token within the window", () => {
    const alarm = props(base.template, "TokenFreshnessAlarm", "AWS::CloudWatch::Alarm");
    const metric = alarm.Metrics.find((m: Json) => m.MetricStat);
    expect(metric.MetricStat.Metric).toEqual({
      Namespace: "EcrTokenRotator",
      MetricName: "TokenSecondsRemaining",
      Dimensions: [{ Name: "service", Value: "ecr-token-rotator" }],
    });
    expect(metric.MetricStat).toMatchObject({ Stat: "Maximum", Period: 3600 });
    const expression = alarm.Metrics.find((m: Json) => m.ReturnData);
    expect(expression.Expression).toBe(`FILL(${metric.Id}, 0)`); // an hour without a report → 0 → breaching
    expect(alarm).toMatchObject({ ComparisonOperator: "LessThanThreshold", TreatMissingData: "breaching" });
    // ALARM only when every hour of the window is bad: the window covers the 10 h schedule + 1 h
    // and ends before a 12 h token written at its start expires.
    expect(alarm.DatapointsToAlarm).toBe(alarm.EvaluationPeriods);
    expect(alarm.EvaluationPeriods).toBe(11);
    expect(full.template.Resources.TokenFreshnessAlarm!.Properties.EvaluationPeriods).toBe(7); // rate(6 hours)
    expect(alarm.Threshold).toBeGreaterThan(0);
    expect(alarm.Threshold).toBeLessThan(12 * 3600);
    expect(alarm.AlarmActions).toEqual([FN_ARN, { Ref: "AlertTopic" }]);
  });
});

describe("least-privilege IAM", () => {
  const ALLOWED_ACTIONS = new Set([
    "ecr:GetAuthorizationToken",
    "ecr:BatchGetImage",
    "ecr:GetDownloadUrlForLayer",
    "ecr:BatchCheckLayerAvailability",
    "ecr:BatchImportUpstreamImage",
    "ecr:CreateRepository",
    "secretsmanager:CreateSecret",
    "secretsmanager:TagResource",
    "secretsmanager:DescribeSecret",
    "secretsmanager:GetSecretValue",
    "secretsmanager:PutSecretValue",
    "kms:GenerateDataKey",
    "kms:Decrypt",
    "eks:DescribeCluster",
    "sqs:SendMessage",
    "logs:CreateLogGroup",
    "logs:CreateLogStream",
    "logs:PutLogEvents",
    "logs:TagResource",
  ]);

  it('scopes every statement of every role to resources; only ecr:GetAuthorizationToken has "*"', () => {
    for (const template of [base.template, full.template]) {
      for (const [roleId] of resourcesOfType(template, "AWS::IAM::Role")) {
        for (const statement of roleStatements(template, roleId)) {
          const actions = asArray<string>(statement.Action);
          const resources = asArray<Json>(statement.Resource);
          expect(statement.Effect).toBe("Allow");
          expect(statement.NotAction ?? statement.NotResource).toBeUndefined();
          expect(resources.length).toBeGreaterThan(0);
          for (const action of actions) expect(action, `${roleId}: wildcard action`).not.toMatch(/\*/);
          if (resources.includes("*")) expect(actions, `${roleId}: "*" resource`).toEqual(["ecr:GetAuthorizationToken"]);
          for (const resource of resources) {
            if (typeof resource === "string") expect(resource === "*" || resource.startsWith("arn:"), `${roleId}: ${resource}`).toBe(true);
            // A pattern may end in "*" (the secret ARN suffix) but never be a bare service-wide ARN.
            const text = typeof resource === "string" ? resource : JSON.stringify(resource);
            expect(text).not.toMatch(/:(secret|cluster\/|key\/|log-group):?\*"?$/);
          }
        }
      }
    }
  });

  it("grants the function exactly its own needs: the configured secrets, key and clusters", () => {
    const statements = roleStatements(base.template, ROLE);
    expect(statements.filter((s) => asArray(s.Resource).includes("*"))).toHaveLength(1);
    for (const action of statements.flatMap((s) => asArray<string>(s.Action))) expect(ALLOWED_ACTIONS, action).toContain(action);
    // Defaults: no KMS key, no clusters → no kms or eks permission at all; no managed policies.
    expect(statements.flatMap((s) => asArray<string>(s.Action)).filter((a) => /^(kms|eks):/.test(a))).toEqual([]);
    expect(props(base.template, ROLE, "AWS::IAM::Role").ManagedPolicyArns).toBeUndefined();
    const secrets = statements.find((s) => asArray<string>(s.Action).includes("secretsmanager:PutSecretValue"));
    // The exact name (issue 19): the own registry's, rendered by CloudFormation, plus the six
    // characters Secrets Manager appends — not "credentials*" ({account} as "*" spans "/").
    expect(secrets.Resource).toEqual([
      { "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:ecr/${AWS::AccountId}/${AWS::Region}/credentials-??????" },
    ]);

    const fullStatements = roleStatements(full.template, ROLE);
    for (const action of fullStatements.flatMap((s) => asArray<string>(s.Action))) expect(ALLOWED_ACTIONS, action).toContain(action);
    const byAction = (action: string) => fullStatements.filter((s) => asArray(s.Action).includes(action)).flatMap((s) => asArray<Json>(s.Resource));
    expect(byAction("secretsmanager:PutSecretValue")).toEqual([
      { "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:platform/ecr/123456789012/eu-west-1-??????" },
      { "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:platform/ecr/210987654321/us-east-1-??????" },
      { "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:platform/ecr/all-??????" },
    ]);
    for (const action of ["kms:GenerateDataKey", "kms:Decrypt"]) expect(byAction(action)).toEqual([KMS_KEY]);
    // Never kms:Encrypt (only UpdateSecret re-encryption uses it); the key only through Secrets
    // Manager in the stack's region, and only for the configured secrets.
    expect(fullStatements.flatMap((s) => asArray<string>(s.Action))).not.toContain("kms:Encrypt");
    const key = fullStatements.find((s) => asArray<string>(s.Action).includes("kms:Decrypt"));
    expect(key.Condition).toEqual({
      StringEquals: { "kms:ViaService": { "Fn::Sub": "secretsmanager.${AWS::Region}.${AWS::URLSuffix}" } },
      StringLike: { "kms:EncryptionContext:SecretARN": byAction("secretsmanager:PutSecretValue") },
    });
    expect(byAction("eks:DescribeCluster")).toEqual([
      { "Fn::Sub": "arn:${AWS::Partition}:eks:eu-west-1:${AWS::AccountId}:cluster/prod-a" },
      { "Fn::Sub": "arn:${AWS::Partition}:eks:us-east-1:${AWS::AccountId}:cluster/prod-b" },
      { "Fn::Sub": "arn:${AWS::Partition}:eks:eu-west-1:${AWS::AccountId}:cluster/stage_c" },
    ]);
    // In a VPC, Lambda's ENI management policy is the one managed policy.
    const managed = props(full.template, ROLE, "AWS::IAM::Role").ManagedPolicyArns;
    expect(JSON.stringify(managed)).toContain(":iam::aws:policy/service-role/AWSLambdaVPCAccessExecutionRole");
    expect(managed).toHaveLength(1);
  });

  it("maps the role to the RBAC group of infra/k8s/components/fallback/rbac.yaml with EKS access entries (when asked)", () => {
    expect(resourcesOfType(base.template, "AWS::EKS::AccessEntry")).toEqual([]);
    const entries = resourcesOfType(full.template, "AWS::EKS::AccessEntry");
    expect(entries.map(([, p]) => p.ClusterName)).toEqual(["prod-a", "stage_c"]);
    const rbac = readFileSync(join(REPO, "infra/k8s/components/fallback/rbac.yaml"), "utf8")
      .split(/^---$/m)
      .map((doc) => load(doc) as Json);
    const binding = rbac.find((doc) => doc.kind === "ClusterRoleBinding");
    for (const [, p] of entries) {
      expect(p).toMatchObject({ PrincipalArn: { "Fn::GetAtt": [ROLE, "Arn"] }, Type: "STANDARD" });
      expect(p.KubernetesGroups).toEqual(binding.subjects.filter((s: Json) => s.kind === "Group").map((s: Json) => s.name));
      expect(p.AccessPolicies).toBeUndefined(); // RBAC only, no cluster-admin style policy
    }
  });
});

describe("pull rights: the produced token pulls with the function's role", () => {
  const PULL = ["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"];
  const repo = (region: string, account: string, pattern: string) => ({ "Fn::Sub": `arn:\${AWS::Partition}:ecr:${region}:${account}:repository/${pattern}` });
  const statement = (template: CfnTemplate, sid: string) => roleStatements(template, ROLE).find((s) => s.Sid === sid);

  it("grants the three pull actions on every repository of the function's own registry by default", () => {
    const pull = statement(base.template, "PullConfiguredRepositories");
    expect(pull).toEqual({ Sid: "PullConfiguredRepositories", Effect: "Allow", Action: PULL, Resource: [repo("${AWS::Region}", "${AWS::AccountId}", "*")] });
    expect(statement(base.template, "PullThroughCacheFirstPull")).toBeUndefined();
    // Pull only: nothing that writes or deletes images or repositories.
    const ecrActions = roleStatements(base.template, ROLE)
      .flatMap((s) => asArray<string>(s.Action))
      .filter((a) => a.startsWith("ecr:"));
    expect(ecrActions.sort()).toEqual(["ecr:GetAuthorizationToken", ...PULL].sort());
  });

  it("scopes them to the configured registries and repository prefixes, plus the pull-through cache prefixes", () => {
    const pull = statement(full.template, "PullConfiguredRepositories");
    expect(pull.Action).toEqual(PULL);
    const registries = [
      ["eu-west-1", "123456789012"],
      ["us-east-1", "210987654321"],
    ] as const;
    expect(pull.Resource).toEqual(registries.flatMap(([region, account]) => ["team-a/*", "base*", "docker-hub/*"].map((p) => repo(region, account, p))));
    const cache = statement(full.template, "PullThroughCacheFirstPull");
    expect(cache).toEqual({
      Sid: "PullThroughCacheFirstPull",
      Effect: "Allow",
      Action: ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
      Resource: registries.map(([region, account]) => repo(region, account, "docker-hub/*")),
    });
  });

  it("reads ECR_REGISTRIES exactly as the function does (same hosts accepted, same account and region)", async () => {
    const { parseConfiguredRegistry } = await import("../../src/formats/registry-host");
    const vectors = [
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
      "https://123456789012.dkr.ecr.us-east-1.amazonaws.com/",
      "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn",
      "123456789012.dkr-ecr.eu-central-1.on.aws",
      "123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com",
      "HTTPS://123456789012.DKR.ECR.EU-WEST-1.AMAZONAWS.COM/v2/",
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com.hacker.com",
      "12345678901.dkr.ecr.eu-west-1.amazonaws.com",
      "123456789012.dkr.ecr.amazonaws.com",
      "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team-a",
      "public.ecr.aws",
    ];
    for (const vector of vectors) {
      let expected: unknown;
      try {
        const h = parseConfiguredRegistry(vector);
        // ECR Public has no repositories the role pulls from: its token rights come from the fleet statements.
        expected = h.public ? [] : [{ host: h.host, accountId: h.accountId, region: h.region }];
      } catch {
        expected = "refused";
      }
      let actual: unknown;
      try {
        actual = stack.parseRegistries(vector);
      } catch (error) {
        expect((error as Error).message).toMatch(/^param ecrRegistries: /);
        actual = "refused";
      }
      expect(actual, vector).toEqual(expected);
    }
  });

  it("documents the policy a registry in another account needs, exactly as generated (docs/deploy.md)", () => {
    const roleArn = "arn:aws:iam::111122223333:role/ecr-token-rotator-prod-eu-west-1-lambdaRole";
    const { repositoryPolicy, registryPolicy } = stack.crossAccountPolicies({
      roleArn,
      registry: "444455556666.dkr.ecr.eu-west-1.amazonaws.com",
      pullThroughCachePrefixes: ["docker-hub"],
    });
    // Repository policy: the role may pull, nothing else; a repository policy names no Resource.
    expect(repositoryPolicy).toEqual({
      Version: "2012-10-17",
      Statement: [{ Sid: "EcrTokenRotatorPull", Effect: "Allow", Principal: { AWS: roleArn }, Action: PULL }],
    });
    // Registry policy (pull-through cache only): create + import under the cache prefix of THAT registry.
    expect(registryPolicy).toEqual({
      Version: "2012-10-17",
      Statement: [
        {
          Sid: "EcrTokenRotatorPullThroughCache",
          Effect: "Allow",
          Principal: { AWS: roleArn },
          Action: ["ecr:BatchImportUpstreamImage", "ecr:CreateRepository"],
          Resource: ["arn:aws:ecr:eu-west-1:444455556666:repository/docker-hub/*"],
        },
      ],
    });
    expect(stack.crossAccountPolicies({ roleArn, registry: "444455556666.dkr.ecr.eu-west-1.amazonaws.com" })).toEqual({ repositoryPolicy });
    expect(() =>
      stack.crossAccountPolicies({ roleArn: "arn:aws:sts::111122223333:assumed-role/x/y", registry: "444455556666.dkr.ecr.eu-west-1.amazonaws.com" }),
    ).toThrow(/not an IAM role ARN/);

    // The JSON blocks of docs/deploy.md that follow the two markers are these documents.
    const docs = readFileSync(join(REPO, "docs/deploy.md"), "utf8");
    const block = (marker: string) => {
      const at = docs.indexOf(marker);
      expect(at, marker).toBeGreaterThan(0);
      const match = /```json\n([\s\S]*?)\n```/.exec(docs.slice(at));
      return JSON.parse(match![1]!);
    };
    expect(block("<!-- cross-account repository policy -->")).toEqual(repositoryPolicy);
    expect(block("<!-- cross-account registry policy (pull-through cache) -->")).toEqual(registryPolicy);

    // …and the stack outputs the repository policy with its own role's ARN filled in.
    for (const template of [base.template, full.template]) {
      const output = template.Outputs!.CrossAccountRepositoryPolicy.Value["Fn::Sub"] as string;
      expect(JSON.parse(output.replace("${IamRoleLambdaExecution.Arn}", roleArn))).toEqual(repositoryPolicy);
    }
  });
});

describe("stage parameters are checked at package time", () => {
  const settingsWith = (params: Record<string, string>) => {
    const defaults: Record<string, string> = {
      secretName: "ecr/{account}/{region}/credentials",
      pullAlarmEvaluationMinutes: "3",
      pullAlarmDatapoints: "2",
      createEksAccessEntries: "false",
      scheduleRate: "rate(10 hours)",
      freshnessWindowHours: "11",
      freshnessThresholdSeconds: "10800",
    };
    const values: Record<string, string> = { "self:service": "ecr-token-rotator", "sls:stage": "test", "self:provider.region": "us-east-1" };
    for (const [key, value] of Object.entries({ ...defaults, ...params })) values[`param:${key}`] = value;
    return stack.readSettings(async (name: string) => values[name] ?? "");
  };

  it("refuses what would widen or break the IAM policy, naming the parameter", async () => {
    await expect(settingsWith({ kmsKeyArn: "alias/ecr-secrets" })).rejects.toThrow(/kmsKeyArn=.*expected a key ARN/);
    await expect(settingsWith({ secretName: "{account}/ecr" })).rejects.toThrow(/must start with a fixed prefix/);
    await expect(settingsWith({ vpcSubnetIds: "subnet-0123456789abcdef0" })).rejects.toThrow(/vpcSubnetIds and vpcSecurityGroupIds: set both/);
    await expect(settingsWith({ eksClusters: "prod,prod" })).rejects.toThrow(/us-east-1:prod is listed twice/);
    await expect(settingsWith({ eksClusters: "bad name" })).rejects.toThrow(/not a valid EKS cluster name/);
    await expect(settingsWith({ scheduleRate: "rate(10 hours)", freshnessWindowHours: "10" })).rejects.toThrow(
      /must be at least the schedule interval \(10 h\) \+ 1 h/,
    );
    await expect(settingsWith({ scheduleRate: "rate(12 hours)" })).rejects.toThrow(/more often than the 12 h token life/);
    await expect(settingsWith({ freshnessWindowHours: "12" })).rejects.toThrow(/freshnessWindowHours="12": expected a whole number from 1 to 11/);
    await expect(settingsWith({ scheduleRate: "rate(6 hours)", freshnessWindowHours: "7" })).resolves.toMatchObject({ numbers: { freshnessWindowHours: 7 } });
    await expect(settingsWith({ pullAlarmDatapoints: "5" })).rejects.toThrow(/pullAlarmDatapoints must not exceed/);
    await expect(settingsWith({ createEksAccessEntries: "true", eksClusters: "eu-west-1:x" }).then(stack.resourcesFor)).rejects.toThrow(
      /names no cluster in us-east-1/,
    );
    await expect(settingsWith({ ecrRegistries: "123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.com" })).rejects.toThrow(
      /param ecrRegistries: .* is not an ECR registry host/,
    );
    await expect(
      settingsWith({ ecrRegistries: "123456789012.dkr.ecr.eu-west-1.amazonaws.com,https://123456789012.dkr.ecr.eu-west-1.amazonaws.com/" }),
    ).rejects.toThrow(/is listed twice/);
    await expect(settingsWith({ pullRepositories: "Team-A/" })).rejects.toThrow(/param pullRepositories: "Team-A\/" is not a repository name prefix/);
    await expect(settingsWith({ pullRepositories: "team-*" })).rejects.toThrow(/param pullRepositories: "team-\*" is not a repository name prefix/);
    await expect(settingsWith({ pullThroughCachePrefixes: "d" })).rejects.toThrow(/param pullThroughCachePrefixes: "d"/);
    await expect(settingsWith({ pullRepositories: "team-a/, base", pullThroughCachePrefixes: "quay,docker-hub" })).resolves.toMatchObject({
      pullRepositories: ["team-a/", "base"],
      pullThroughCachePrefixes: ["quay", "docker-hub"],
    });
    await expect(settingsWith({})).resolves.toMatchObject({
      clusters: [],
      alarmClusters: [],
      kmsKeyArn: "",
      registries: [],
      pullRepositories: [],
      pullThroughCachePrefixes: [],
    });
  });

  it("reads EKS_CLUSTERS in every form the function accepts", () => {
    expect(stack.parseClusters("arn:aws:eks:eu-west-1:123456789012:cluster/prod", "us-east-1")).toEqual([
      { name: "prod", region: "eu-west-1", override: false },
    ]);
    expect(stack.parseClusters("a, eu-west-1:b", "us-east-1")).toEqual([
      { name: "a", region: "us-east-1", override: false },
      { name: "b", region: "eu-west-1", override: false },
    ]);
    expect(stack.parseClusters('[{"name":"p","endpoint":"https://10.0.0.1","caData":"QQ=="},{"name":"q","region":"eu-west-1"}]', "us-east-1")).toEqual([
      { name: "p", region: "us-east-1", override: true },
      { name: "q", region: "eu-west-1", override: false },
    ]);
    // A cluster reached through an endpoint override needs no eks:DescribeCluster.
    const statements = stack.iamStatementsFor({
      secretName: "ecr/x",
      combinedSecretName: "",
      kmsKeyArn: "",
      clusters: stack.parseClusters('[{"name":"p","endpoint":"https://10.0.0.1","caData":"QQ=="}]', "us-east-1"),
    });
    expect(statements.flatMap((s: Json) => s.Action)).not.toContain("eks:DescribeCluster");
  });
});

describe("the packaged bundle", () => {
  let unpacked: { dir: string; cleanup: () => void };
  let files: string[];
  let moto: MotoServer;
  beforeAll(async () => {
    unpacked = scratch("ecr-rotator-zip-");
    files = await unzip(base.zipPath, unpacked.dir);
    moto = await startMoto();
  });
  afterAll(async () => {
    await moto?.stop();
    unpacked?.cleanup();
  });

  const invoke = async (event: unknown, env: Record<string, string>) => {
    const script = `const { handler } = await import(${JSON.stringify(join(unpacked.dir, "handlers/rotate.mjs"))});
      try { console.log("RESULT " + JSON.stringify(await handler(${JSON.stringify(event)}))); }
      catch (e) { console.log("ERROR " + e.name + ": " + e.message); }`;
    // Only the bundle's own directory: no node_modules anywhere above it.
    return run(process.execPath, ["--input-type=module", "-e", script], { cwd: unpacked.dir, env: { PATH: process.env.PATH ?? "", ...env } });
  };

  it("holds the ESM handler and its chunks, with every dependency bundled (no node_modules, no bare imports)", () => {
    expect(files).toContain("handlers/rotate.mjs");
    expect(files.filter((f) => f.startsWith("node_modules/") || f.endsWith("package.json"))).toEqual([]);
    expect(files.every((f) => f.endsWith(".mjs"))).toBe(true);
    const bytes = files.reduce((sum, f) => sum + readFileSync(join(unpacked.dir, f)).length, 0);
    const entry = readFileSync(join(unpacked.dir, "handlers/rotate.mjs"), "utf8");
    console.log(`bundle: ${files.length} files, ${bytes} bytes unpacked (entry ${entry.length} bytes), zip ${base.zipBytes} bytes`);
    expect(entry.startsWith("import{createRequire as __cr}from'module';const require=__cr(import.meta.url);")).toBe(true);
    expect(files.filter((f) => f.endsWith("-meta.json") || f.endsWith(".map"))).toEqual([]);
    // The doctor is a chunk of its own, imported only by {"action":"doctor"} (not in the entry).
    const doctor = files.filter((f) => /^handlers\/chunks\/doctor-[\w-]+\.mjs$/.test(f));
    expect(doctor).toHaveLength(1);
    expect(readFileSync(join(unpacked.dir, doctor[0]!), "utf8")).toContain("registry login ");
    expect(entry).not.toContain("registry login ");
  });

  it("resolves every import inside the zip: @aws-sdk/* and the rest are bundled, only Node builtins stay outside", async () => {
    // esbuild re-bundles the unpacked entry from a directory with no node_modules: any import the
    // packaging left external (a bare specifier) cannot be resolved and fails the build.
    const result = await build({
      entryPoints: [join(unpacked.dir, "handlers/rotate.mjs")],
      absWorkingDir: unpacked.dir,
      bundle: true,
      write: false,
      platform: "node",
      format: "esm",
      metafile: true,
      logLevel: "silent",
      external: ["node:*", ...builtinModules],
    });
    const inputs = Object.keys(result.metafile.inputs);
    expect(inputs.every((input) => input.startsWith("handlers/"))).toBe(true);
    const externals = Object.values(result.metafile.inputs).flatMap((input) => input.imports.filter((i) => i.external).map((i) => i.path));
    expect(externals.filter((path) => !path.startsWith("node:") && !builtinModules.includes(path))).toEqual([]);
    expect(inputs).toContain("handlers/rotate.mjs");
  });

  it("loads in Node 22 and answers an alarm going back to OK without any AWS call", async () => {
    const out = await invoke(
      { source: "aws.cloudwatch", alarmData: { alarmName: "x", state: { value: "OK" }, previousState: { value: "ALARM" } } },
      {
        AWS_REGION: "us-east-1",
      },
    );
    expect(out.stdout).toMatch(/RESULT .*"action":"none"/);
  });

  it("runs the schedule's input against AWS (moto) with the bundled SDK and fails loudly on moto's expired token", async () => {
    const schedule = props(base.template, "RotateSchedule", "AWS::Scheduler::Schedule");
    const out = await invoke(JSON.parse(schedule.Target.Input), { ...motoEnv(moto.url), ECR_REGISTRIES: "123456789012.dkr.ecr.us-east-1.amazonaws.com" });
    expect(out.stdout).toMatch(/ERROR RunFailedError: ecr-token-rotator run failed: .*expired/);
    expect(out.stdout + out.stderr).toContain('"trigger"');
  });
});
