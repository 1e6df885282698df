/**
 * Event classification (docs/facts.md §6). Fixtures in test/fixtures/events are
 * realistic payloads shaped after the AWS documentation (CloudWatch "Invoke a Lambda function from
 * an alarm", "Alarm events and EventBridge"), DefinitelyTyped's aws-lambda types and
 * aws/aws-lambda-go events/testdata/cloudwatch-alarm-sns-payload-{single-metric,multiple-metrics}.json.
 */
import { readFileSync } from "node:fs";
import type { CloudWatchAlarmEvent, EventBridgeEvent, ScheduledEvent, SNSEvent } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { BadRequestError } from "../../src/shared/errors";
import { classifyEvent, describeShape, parseManualRequest, type EventDecision, type Request } from "../../src/request/triggers";
import type { LooseJson } from "../support/loose-json";

type AlarmDetail = {
  alarmName: string;
  state: { value: string; reason?: string };
  previousState: { value: string; reason?: string };
  configuration: { metrics?: unknown[]; description?: string };
};
type AlarmStateChange = EventBridgeEvent<"CloudWatch Alarm State Change", AlarmDetail>;

/** A fresh copy of a fixture, so a test may mutate it. */
function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(new URL(`../fixtures/events/${name}.json`, import.meta.url), "utf8")) as T;
}

/** Replaces the alarm JSON inside an SNS-wrapped alarm. */
function withSnsMessage(event: SNSEvent, edit: (message: Record<string, unknown>) => void): SNSEvent {
  const record = event.Records[0]!;
  const message = JSON.parse(record.Sns.Message) as Record<string, unknown>;
  edit(message);
  record.Sns.Message = JSON.stringify(message);
  return event;
}

function run(classification: EventDecision): Request {
  if (classification.kind !== "run") throw new Error(`expected a run, got ignore: ${classification.reason}`);
  return classification.request;
}

function ignored(classification: EventDecision): Extract<EventDecision, { kind: "ignore" }> {
  if (classification.kind !== "ignore") throw new Error(`expected ignore, got a run of ${classification.request.action}`);
  return classification;
}

function badRequest(fn: () => unknown): BadRequestError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(BadRequestError);
    return error as BadRequestError;
  }
  throw new Error("expected a BadRequestError, nothing was thrown");
}

const SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY-s3cr3t";

describe("schedules", () => {
  it("EventBridge Scheduler input {action:rotate, source:schedule} is a scheduled rotate", () => {
    const request = run(classifyEvent(fixture("scheduler-input")));
    expect(request).toEqual({ action: "rotate", trigger: { kind: "schedule", via: "scheduler-input" }, dryRun: false, force: false });
  });

  it("the classic EventBridge rule 'Scheduled Event' from aws.events is a scheduled rotate", () => {
    const event = fixture<ScheduledEvent>("scheduled-event");
    const request = run(classifyEvent(event));
    expect(request).toEqual({ action: "rotate", trigger: { kind: "schedule", via: "scheduled-event" }, dryRun: false, force: false });
  });

  it("a 'Scheduled Event' from another source is rejected", () => {
    const event = fixture<ScheduledEvent>("scheduled-event");
    event.source = "custom.app";
    expect(badRequest(() => classifyEvent(event)).message).toMatch(/Scheduled Event from unexpected source "custom\.app"/);
  });

  it("a schedule may only ask for rotate", () => {
    for (const action of ["heal", "diagnose"]) {
      expect(badRequest(() => classifyEvent({ action, source: "schedule" })).message).toMatch(/a schedule may only ask for action "rotate"/);
    }
  });

  it("scheduler input with dryRun/force is honoured and still a schedule", () => {
    const request = run(classifyEvent({ action: "rotate", source: "schedule", dryRun: true, force: true }));
    expect(request.trigger).toEqual({ kind: "schedule", via: "scheduler-input" });
    expect(request.dryRun).toBe(true);
    expect(request.force).toBe(true);
  });
});

describe("CloudWatch alarm invoking the function directly (alarm action)", () => {
  it("a transition OK → ALARM heals and names the alarm, its states and the ClusterName dimension", () => {
    const event = fixture<CloudWatchAlarmEvent>("alarm-action-into-alarm");
    const request = run(classifyEvent(event));
    expect(request.action).toBe("heal");
    expect(request.dryRun).toBe(false);
    expect(request.trigger).toEqual({
      kind: "alarm",
      via: "alarm-action",
      alarmName: "ecr-image-pull-failures-prod-use1",
      alarmState: "ALARM",
      previousAlarmState: "OK",
      alarmClusters: ["prod-use1"],
    });
  });

  it("INSUFFICIENT_DATA → ALARM heals too", () => {
    const event = fixture<CloudWatchAlarmEvent>("alarm-action-into-alarm");
    event.alarmData.previousState.value = "INSUFFICIENT_DATA";
    expect(run(classifyEvent(event)).action).toBe("heal");
  });

  // An alarm heal always fetches a fresh token, but does not bypass the write debounce: an alarm
  // storm must not multiply Secrets Manager versions (docs/facts.md §3). Inside the window the stored
  // credential is at most WRITE_DEBOUNCE_SECONDS old and is what heal pushes (README, "How a
  // rotation behaves"); only an operator's explicit force bypasses the window.
  it("a heal from an alarm does not bypass the write debounce (alarm storms)", () => {
    const request = run(classifyEvent(fixture("alarm-action-into-alarm")));
    expect(request.force).toBe(false);
  });

  it("ALARM → OK is ignored with a reason naming the alarm and the state", () => {
    const result = ignored(classifyEvent(fixture("alarm-action-back-to-ok")));
    expect(result.reason).toContain("ecr-image-pull-failures-prod-use1");
    expect(result.reason).toContain("OK");
    expect(result.trigger).toMatchObject({ kind: "alarm", via: "alarm-action", alarmState: "OK", previousAlarmState: "ALARM" });
  });

  it("→ INSUFFICIENT_DATA is ignored", () => {
    const event = fixture<CloudWatchAlarmEvent>("alarm-action-back-to-ok");
    event.alarmData.state.value = "INSUFFICIENT_DATA";
    expect(ignored(classifyEvent(event)).reason).toContain("INSUFFICIENT_DATA");
  });

  it("ALARM → ALARM (no transition into ALARM) is ignored", () => {
    const event = fixture<CloudWatchAlarmEvent>("alarm-action-into-alarm");
    event.alarmData.previousState.value = "ALARM";
    expect(ignored(classifyEvent(event)).reason).toMatch(/already in ALARM/);
  });

  it("a composite alarm (alarmRule, no metrics) heals without cluster names", () => {
    const request = run(classifyEvent(fixture("alarm-action-composite")));
    expect(request.action).toBe("heal");
    expect(request.trigger.alarmName).toBe("ecr-pulls-broken-anywhere");
    expect(request.trigger.previousAlarmState).toBe("INSUFFICIENT_DATA");
    expect(request.trigger).not.toHaveProperty("alarmClusters");
  });

  it("metrics without a ClusterName dimension give no clusters", () => {
    const event = fixture<CloudWatchAlarmEvent>("alarm-action-into-alarm");
    const metric = (event.alarmData.configuration as { metrics: Array<{ metricStat: { metric: { dimensions: Record<string, string> } } }> }).metrics[0]!;
    metric.metricStat.metric.dimensions = { InstanceId: "i-0123456789abcdef0" };
    expect(run(classifyEvent(event)).trigger).not.toHaveProperty("alarmClusters");
  });

  it("reads the ClusterName dimension as a map (AWS) and as a list of Name/Value pairs (LocalStack)", () => {
    const event = fixture<CloudWatchAlarmEvent>("alarm-action-into-alarm");
    const metric = (event.alarmData.configuration as { metrics: Array<{ metricStat: { metric: { dimensions: unknown } } }> }).metrics[0]!;
    metric.metricStat.metric.dimensions = [
      { Name: "InstanceId", Value: "i-0123456789abcdef0" },
      { Name: "ClusterName", Value: "prod" },
    ];
    expect(run(classifyEvent(event)).trigger.alarmClusters).toEqual(["prod"]);
    metric.metricStat.metric.dimensions = [{ Name: "InstanceId", Value: "i-0123456789abcdef0" }, { Name: "ClusterName" }];
    expect(run(classifyEvent(event)).trigger).not.toHaveProperty("alarmClusters");
  });

  it("an alarm event without alarmData, or without a state value, is a bad request", () => {
    const noData = fixture<Record<string, unknown>>("alarm-action-into-alarm");
    noData.alarmData = "oops";
    expect(badRequest(() => classifyEvent(noData)).message).toMatch(/no alarmData object/);

    const noState = fixture<CloudWatchAlarmEvent>("alarm-action-into-alarm");
    delete (noState.alarmData as Partial<CloudWatchAlarmEvent["alarmData"]>).state;
    expect(badRequest(() => classifyEvent(noState)).message).toMatch(
      /malformed CloudWatch alarm event \(alarm-action\): alarmData\.state must be an object with a string value/,
    );
  });
});

describe("CloudWatch Alarm State Change via EventBridge", () => {
  it("a transition into ALARM heals; every ClusterName of a metric-math alarm is extracted (expressions skipped)", () => {
    const event = fixture<AlarmStateChange>("alarm-eventbridge-into-alarm");
    const request = run(classifyEvent(event));
    expect(request.action).toBe("heal");
    expect(request.trigger).toEqual({
      kind: "alarm",
      via: "alarm-eventbridge",
      alarmName: "ecr-image-pull-failures-fleet",
      alarmState: "ALARM",
      previousAlarmState: "OK",
      alarmClusters: ["prod-euw1", "staging-euw1"],
    });
  });

  it("the same cluster in two metrics is named once", () => {
    const event = fixture<AlarmStateChange>("alarm-eventbridge-into-alarm");
    const metrics = event.detail.configuration.metrics as Array<{ metricStat?: { metric: { dimensions: Record<string, string> } } }>;
    metrics[2]!.metricStat!.metric.dimensions.ClusterName = "prod-euw1";
    expect(run(classifyEvent(event)).trigger.alarmClusters).toEqual(["prod-euw1"]);
  });

  it("ALARM → INSUFFICIENT_DATA is ignored", () => {
    const result = ignored(classifyEvent(fixture("alarm-eventbridge-insufficient-data")));
    expect(result.reason).toContain("INSUFFICIENT_DATA");
    expect(result.trigger).toMatchObject({ via: "alarm-eventbridge", alarmState: "INSUFFICIENT_DATA", previousAlarmState: "ALARM" });
  });

  it("ALARM → ALARM is ignored", () => {
    const event = fixture<AlarmStateChange>("alarm-eventbridge-into-alarm");
    event.detail.previousState.value = "ALARM";
    expect(ignored(classifyEvent(event)).reason).toMatch(/already in ALARM/);
  });

  it("without a detail object it is a bad request", () => {
    const event = fixture<Record<string, unknown>>("alarm-eventbridge-into-alarm");
    delete event.detail;
    expect(badRequest(() => classifyEvent(event)).message).toMatch(/has no detail object/);
  });
});

describe("CloudWatch alarm wrapped in SNS", () => {
  it("a single-metric alarm into ALARM heals, with its ClusterName dimension", () => {
    const event = fixture<SNSEvent>("alarm-sns-single-metric");
    const request = run(classifyEvent(event));
    expect(request.action).toBe("heal");
    expect(request.trigger).toEqual({
      kind: "alarm",
      via: "alarm-sns",
      alarmName: "ecr-image-pull-failures-prod-use1",
      alarmState: "ALARM",
      previousAlarmState: "OK",
      alarmClusters: ["prod-use1"],
    });
  });

  it("the aws-lambda-go test payload shape (InstanceId dimension) heals without clusters", () => {
    const event = withSnsMessage(fixture<SNSEvent>("alarm-sns-single-metric"), (m) => {
      (m.Trigger as { Dimensions: unknown }).Dimensions = [{ value: "TestInstance", name: "InstanceId" }];
      m.OldStateValue = "INSUFFICIENT_DATA";
    });
    const request = run(classifyEvent(event));
    expect(request.trigger.previousAlarmState).toBe("INSUFFICIENT_DATA");
    expect(request.trigger).not.toHaveProperty("alarmClusters");
  });

  // A metric-math alarm's SNS message carries its dimensions in Trigger.Metrics[].MetricStat.Metric
  // .Dimensions, not Trigger.Dimensions (aws-lambda-go cloudwatch-alarm-sns-payload-multiple-metrics.json).
  it("a multiple-metrics alarm heals and its ClusterName dimensions are extracted from Trigger.Metrics", () => {
    const request = run(classifyEvent(fixture("alarm-sns-multiple-metrics")));
    expect(request.action).toBe("heal");
    expect(request.trigger.alarmName).toBe("ecr-image-pull-failures-fleet");
    expect(request.trigger.alarmClusters).toEqual(["prod-use1", "batch-use1"]);
  });

  it("ALARM → OK is ignored", () => {
    const result = ignored(classifyEvent(fixture("alarm-sns-back-to-ok")));
    expect(result.reason).toContain("OK");
    expect(result.trigger).toMatchObject({ via: "alarm-sns", alarmState: "OK", previousAlarmState: "ALARM" });
  });

  it("ALARM → ALARM is ignored", () => {
    const event = withSnsMessage(fixture<SNSEvent>("alarm-sns-single-metric"), (m) => {
      m.OldStateValue = "ALARM";
    });
    expect(ignored(classifyEvent(event)).reason).toMatch(/already in ALARM/);
  });

  it("an SNS event with several records is rejected (one alarm per invocation)", () => {
    const event = fixture<SNSEvent>("alarm-sns-single-metric");
    event.Records.push(event.Records[0]!);
    expect(badRequest(() => classifyEvent(event)).message).toMatch(/SNS event with 2 records/);
  });

  it("an SNS message that is not JSON is rejected without echoing it", () => {
    const event = fixture<SNSEvent>("alarm-sns-single-metric");
    event.Records[0]!.Sns.Message = `deploy finished, token=${SECRET}`;
    const error = badRequest(() => classifyEvent(event));
    expect(error.message).toMatch(/SNS message is not JSON/);
    expect(error.message).not.toContain(SECRET);
  });

  it("an SNS JSON message that is not an alarm notification is rejected, naming its keys but no values", () => {
    const event = fixture<SNSEvent>("alarm-sns-single-metric");
    event.Records[0]!.Sns.Message = JSON.stringify({ username: "AWS", password: SECRET });
    const error = badRequest(() => classifyEvent(event));
    expect(error.message).toMatch(/not a CloudWatch alarm notification/);
    expect(error.message).toContain('"password"');
    expect(error.message).not.toContain(SECRET);
  });
});

describe("manual invoke", () => {
  it("rotate with registries and force", () => {
    const request = run(classifyEvent(fixture("manual-rotate")));
    expect(request).toEqual({
      action: "rotate",
      trigger: { kind: "manual", via: "manual" },
      dryRun: false,
      force: true,
      registries: ["123456789012.dkr.ecr.us-east-1.amazonaws.com", "210987654321.dkr.ecr.eu-west-1.amazonaws.com"],
    });
  });

  it("heal with clusters, namespaces and dryRun", () => {
    const request = run(classifyEvent(fixture("manual-heal")));
    expect(request).toEqual({
      action: "heal",
      trigger: { kind: "manual", via: "manual" },
      dryRun: true,
      force: false,
      clusters: ["prod-use1"],
      namespaces: ["payments", "web"],
    });
  });

  it("diagnose is a valid action; source manual is accepted", () => {
    expect(parseManualRequest({ action: "diagnose", source: "manual" }).action).toBe("diagnose");
  });

  it("the via label is the caller's (the CLI passes its own)", () => {
    expect(parseManualRequest({ action: "rotate" }, "cli").trigger).toEqual({ kind: "manual", via: "cli" });
  });

  it("names are trimmed and de-duplicated", () => {
    const request = parseManualRequest({ action: "heal", clusters: ["prod", " prod ", "dev"], namespaces: ["web", "web"] });
    expect(request.clusters).toEqual(["prod", "dev"]);
    expect(request.namespaces).toEqual(["web"]);
  });

  it("an unknown field is rejected, naming the field (and not its value)", () => {
    const error = badRequest(() => classifyEvent({ action: "rotate", dryrun: true, token: SECRET }));
    expect(error.message).toMatch(/unknown fields "dryrun", "token"/);
    expect(error.message).toMatch(/allowed: action, source, dryRun, force, registries, clusters, namespaces/);
    expect(error.message).not.toContain(SECRET);
  });

  it.each([
    [{ action: "rotate", dryRun: "true" }, /dryRun must be a boolean/],
    [{ action: "rotate", force: 1 }, /force must be a boolean/],
    [{ action: "rotate", registries: "123456789012.dkr.ecr.us-east-1.amazonaws.com" }, /registries must be an array/],
    [{ action: "heal", clusters: [42] }, /clusters\.0 must be a string/],
    [{ action: "heal", namespaces: null }, /namespaces must be an array/],
    [{ action: "rotate", source: "cron" }, /source must be one of "schedule", "manual"/],
  ])("wrong type %j is rejected precisely", (payload, message) => {
    expect(badRequest(() => parseManualRequest(payload)).message).toMatch(message);
  });

  it("a bad action is rejected listing the allowed ones, without echoing the value", () => {
    const error = badRequest(() => classifyEvent({ action: SECRET }));
    expect(error.message).toMatch(/action must be one of "rotate", "heal", "diagnose"/);
    expect(error.message).not.toContain(SECRET);
  });

  it("a wrongly typed field does not echo its value", () => {
    const error = badRequest(() => classifyEvent({ action: "rotate", dryRun: SECRET, registries: [SECRET, 1] }));
    expect(error.message).toMatch(/dryRun must be a boolean/);
    expect(error.message).not.toContain(SECRET);
  });

  // The whole message, issue order included: these are the messages zod's strictObject gave
  // (checked against it over 20,000 generated requests when the hand-written check replaced it).
  it.each([
    [null, "request must be a object"],
    [{}, 'action must be one of "rotate", "heal", "diagnose", "doctor"'],
    [
      { token: 1, namespaces: [1, "a", null], action: "x", dryRun: null, source: "cron", force: undefined },
      'action must be one of "rotate", "heal", "diagnose", "doctor"; source must be one of "schedule", "manual"; dryRun must be a boolean; namespaces.0 must be a string; namespaces.2 must be a string; unknown field "token" (allowed: action, source, dryRun, force, registries, clusters, namespaces, restartPods)',
    ],
    [
      JSON.parse('{"__proto__":1,"action":"rotate"}'),
      'unknown field "__proto__" (allowed: action, source, dryRun, force, registries, clusters, namespaces, restartPods)',
    ],
  ])("the type problems of %j are all named, in the fields' order", (payload, message) => {
    expect(badRequest(() => parseManualRequest(payload)).message).toBe(`invalid manual request: ${message}`);
  });

  it("a missing action is rejected by parseManualRequest", () => {
    expect(badRequest(() => parseManualRequest({ dryRun: true })).message).toMatch(/action/);
  });

  it.each(["registries", "clusters", "namespaces"])("an empty %s list is rejected (omit it to mean all)", (field) => {
    const action = field === "registries" ? "rotate" : "heal";
    expect(badRequest(() => parseManualRequest({ action, [field]: [] })).message).toContain(`${field} must not be empty`);
  });

  it("a list with a blank name is rejected", () => {
    expect(badRequest(() => parseManualRequest({ action: "heal", namespaces: ["web", "  "] })).message).toContain("namespaces must not contain empty names");
  });

  it.each([{ clusters: ["prod"] }, { namespaces: ["web"] }])("rotate with %j is rejected (Kubernetes scope needs heal/diagnose)", (extra) => {
    expect(badRequest(() => parseManualRequest({ action: "rotate", ...extra })).message).toMatch(
      /clusters and namespaces apply to "heal" and "diagnose", not "rotate"/,
    );
  });

  it("several problems are reported together", () => {
    const message = badRequest(() => parseManualRequest({ action: "rotate", registries: [], clusters: ["prod"] })).message;
    expect(message).toContain("registries must not be empty");
    expect(message).toContain('not "rotate"');
  });
});

describe("anything else", () => {
  it.each([
    [null, "got null"],
    ["rotate", "got a string"],
    [42, "got a number"],
    [true, "got a boolean"],
    [[{ action: "rotate" }], "got an array of 1"],
    [{}, "got an empty object"],
  ])("%j is rejected, naming what was received", (event, shape) => {
    expect(badRequest(() => classifyEvent(event)).message).toContain(shape);
  });

  it("an unknown object names its keys, never a value, even a secret-looking one", () => {
    const event = { username: "AWS", password: SECRET, auth: Buffer.from(`AWS:${SECRET}`).toString("base64") };
    const error = badRequest(() => classifyEvent(event));
    expect(error.message).toMatch(/unsupported event: got an object with keys "username", "password", "auth"/);
    expect(error.message).toMatch(/expected a schedule, a CloudWatch alarm, or \{"action"/);
    for (const value of Object.values(event)) if (value !== "AWS") expect(error.message).not.toContain(value);
  });

  it("a bare string event that holds a secret is not echoed", () => {
    expect(badRequest(() => classifyEvent(SECRET)).message).not.toContain(SECRET);
  });

  it("describeShape caps the listed keys", () => {
    const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, SECRET]));
    const shape = describeShape(many);
    expect(shape).toContain('"k11"');
    expect(shape).not.toContain('"k12"');
    expect(shape).toContain("…");
    expect(shape).not.toContain(SECRET);
  });

  it("an EventBridge event of another detail-type is rejected, naming the detail-type", () => {
    const error = badRequest(() => classifyEvent(fixture("ecr-image-push")));
    expect(error.message).toMatch(/unsupported EventBridge event: detail-type "ECR Image Action"/);
    expect(error.message).not.toContain("sha256:");
  });

  it("a Secrets Manager rotation event points at the schedule instead", () => {
    const error = badRequest(() => classifyEvent(fixture("secretsmanager-rotation")));
    expect(error.message).toMatch(/Secrets Manager rotation events are not supported/);
    expect(error.message).not.toContain("EXAMPLE1-90ab");
  });

  it("records that are not SNS (an S3 event) are rejected", () => {
    const error = badRequest(() => classifyEvent(fixture("s3-put")));
    expect(error.message).toMatch(/records that are not SNS alarm notifications/);
    expect(error.message).not.toContain("deploy-artifacts");
  });

  it("an event with source aws.cloudwatch but neither alarmData nor detail-type is not taken for an alarm", () => {
    expect(badRequest(() => classifyEvent({ source: "aws.cloudwatch" })).message).toMatch(/unsupported event/);
  });
});

describe("malformed alarm payloads are rejected by name (issue 9 item 5)", () => {
  it.each([
    ["a number", 1],
    ["an object", { value: "ALARM" }],
    ["null", null],
  ])("alarm action whose state.value is %s: a bad request naming alarmData.state.value, never ignored as ok", (_label, value) => {
    const event = fixture<CloudWatchAlarmEvent>("alarm-action-into-alarm");
    (event.alarmData.state as unknown as { value: unknown }).value = value;
    expect(badRequest(() => classifyEvent(event)).message).toMatch(
      /malformed CloudWatch alarm event \(alarm-action\): alarmData\.state\.value must be a string/,
    );
  });

  it("EventBridge state change whose state is a string, or previousState.value is not a string: named", () => {
    const event = fixture<Record<string, LooseJson>>("alarm-eventbridge-into-alarm");
    event.detail.state = "ALARM";
    event.detail.previousState.value = 3;
    const message = badRequest(() => classifyEvent(event)).message;
    expect(message).toMatch(/detail\.state must be an object with a string value \(got a string\)/);
    expect(message).toMatch(/detail\.previousState\.value must be a string/);
  });

  it("alarmName that is not a string is named", () => {
    const event = fixture<Record<string, LooseJson>>("alarm-eventbridge-into-alarm");
    event.detail.alarmName = ["x"];
    expect(badRequest(() => classifyEvent(event)).message).toMatch(/detail\.alarmName must be a string \(got an array of 1\)/);
  });

  it("SNS alarm notification with a non-string NewStateValue or OldStateValue is named", () => {
    const event = fixture<Record<string, LooseJson>>("alarm-sns-single-metric");
    const message = JSON.parse(event.Records[0].Sns.Message);
    event.Records[0].Sns.Message = JSON.stringify({ ...message, NewStateValue: 5 });
    expect(badRequest(() => classifyEvent(event)).message).toMatch(/NewStateValue must be a string, got a number/);
    event.Records[0].Sns.Message = JSON.stringify({ ...message, OldStateValue: { v: 1 } });
    expect(badRequest(() => classifyEvent(event)).message).toMatch(/OldStateValue must be a string/);
  });
});

describe("a manual request is validated whole before any write (issue 9 item 5)", () => {
  it("registries are normalised and de-duplicated: H, https://H/ and H/v2/ are one registry", () => {
    const host = "123456789012.dkr.ecr.us-east-1.amazonaws.com";
    expect(parseManualRequest({ action: "rotate", registries: [host, `https://${host}/`, `${host.toUpperCase()}/v2/`] }).registries).toEqual([host]);
  });

  it("namespace names that are not DNS labels are rejected for heal and diagnose", () => {
    for (const action of ["heal", "diagnose"]) {
      expect(badRequest(() => parseManualRequest({ action, namespaces: ["Bad_NS"] })).message).toMatch(/namespaces: "Bad_NS" is not a valid namespace name/);
    }
    expect(badRequest(() => parseManualRequest({ action: "heal", namespaces: ["a".repeat(64)] })).message).toMatch(/is not a valid namespace name/);
  });
});
