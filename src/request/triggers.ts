/**
 * Event classification: every way the function can be invoked becomes a Request, or an ignore
 * decision, or a BadRequestError. Pure; nothing here touches the network.
 */
import type { CloudWatchAlarmEvent, EventBridgeEvent, ScheduledEvent, SNSEvent } from "aws-lambda";
import { array, boolean, enum as zenum, optional, safeParse, string, strictObject } from "zod/mini";
import { BadRequestError } from "../shared/errors";
import { parseRegistryHost } from "../formats/registry-host";
import { isValidNamespaceName } from "../shared/names";
import { boundedList } from "../shared/bounded-list";
import { withoutCredentials } from "../shared/redact";

/** `diagnose` and `doctor` are read-only; only a manual request (CLI, `{"action": …}`) runs them. */
export type Action = "rotate" | "heal" | "diagnose" | "doctor";

export interface Trigger {
  kind: "schedule" | "alarm" | "manual";
  /** How it arrived: scheduler-input, scheduled-event, alarm-action, alarm-eventbridge, alarm-sns, manual, cli. */
  via: string;
  alarmName?: string;
  alarmState?: string;
  previousAlarmState?: string;
  /** ClusterName dimensions of the alarm's metrics, when it has any. */
  alarmClusters?: string[];
}

export interface Request {
  action: Action;
  trigger: Trigger;
  dryRun: boolean;
  /** Write a new secret version even inside the debounce window. */
  force: boolean;
  registries?: string[];
  clusters?: string[];
  namespaces?: string[];
  /**
   * Restart the pods the heal's fix cannot reach by itself (src/kube/restart.ts): false = not
   * this time; true = asks for it, refused unless RESTART_STUCK_PODS=true (a request narrows,
   * never widens, what the configuration allows); absent = as configured.
   */
  restartPods?: boolean;
}

export type EventDecision = { kind: "run"; request: Request } | { kind: "ignore"; trigger: Trigger; reason: string };

type AlarmStateChangeDetail = {
  alarmName?: string;
  state?: { value?: string };
  previousState?: { value?: string };
  configuration?: { metrics?: unknown[] };
};

const manualRequestSchema = strictObject({
  action: zenum(["rotate", "heal", "diagnose", "doctor"]),
  source: optional(zenum(["schedule", "manual"])),
  dryRun: optional(boolean()),
  force: optional(boolean()),
  registries: optional(array(string())),
  clusters: optional(array(string())),
  namespaces: optional(array(string())),
  restartPods: optional(boolean()),
});
const MANUAL_FIELDS = ["action", "source", "dryRun", "force", "registries", "clusters", "namespaces", "restartPods"];

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Names what was received without echoing any value (values could carry secrets). */
export function describeShape(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (!isRecord(value)) return `a ${typeof value}`;
  const keys = Object.keys(value);
  if (keys.length === 0) return "an empty object";
  const shown = keys.slice(0, 12).map((k) => JSON.stringify(k.slice(0, 40)));
  return `an object with keys ${shown.join(", ")}${keys.length > 12 ? ", …" : ""}`;
}

function formatIssues(issues: ReadonlyArray<{ code: string; path: ReadonlyArray<PropertyKey>; [k: string]: unknown }>): string[] {
  return issues.map((issue) => {
    const at = issue.path.length > 0 ? issue.path.map(String).join(".") : "request";
    switch (issue.code) {
      case "unrecognized_keys":
        return `unknown field${(issue.keys as string[]).length > 1 ? "s" : ""} ${boundedList(issue.keys as string[])} (allowed: ${MANUAL_FIELDS.join(", ")})`;
      case "invalid_value":
        return `${at} must be one of ${(issue.values as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
      case "invalid_type":
        return `${at} must be ${issue.expected === "array" ? "an array" : `a ${String(issue.expected)}`}`;
      default:
        return `${at} is invalid`;
    }
  });
}

function nonEmptyUnique(field: string, values: string[] | undefined, problems: string[]): string[] | undefined {
  if (values === undefined) return undefined;
  if (values.length === 0) problems.push(`${field} must not be empty (omit it to mean all)`);
  if (values.some((v) => v.trim() === "")) problems.push(`${field} must not contain empty names`);
  return [...new Set(values.map((v) => v.trim()))];
}

/**
 * The requested registries as canonical hosts (`H`, `https://H/` and `H/` are one registry),
 * de-duplicated; a value that is not a registry host is a problem named here, before any write.
 */
function registryHosts(values: string[] | undefined, problems: string[]): string[] | undefined {
  if (values === undefined) return undefined;
  const hosts: string[] = [];
  for (const value of values) {
    if (value === "") continue;
    try {
      hosts.push(parseRegistryHost(value).host);
    } catch (error) {
      problems.push(`registries: ${(error as Error).message}`);
    }
  }
  return [...new Set(hosts)];
}

/** A manual request's refusal shows at most this many problems, each of at most this many characters. */
const SHOWN_PROBLEMS = 8;
const PROBLEM_CHARACTERS = 600;

/**
 * A manual request's refusal, bounded and masked as configuration errors are: the first few
 * problems (each masked by withoutCredentials and cut), then how many more.
 */
function refusal(problems: readonly string[]): BadRequestError {
  const shown = problems
    .slice(0, SHOWN_PROBLEMS)
    .map((p) => withoutCredentials(p))
    .map((p) => (p.length > PROBLEM_CHARACTERS ? `${p.slice(0, PROBLEM_CHARACTERS)}…` : p));
  const rest = problems.length - shown.length;
  return BadRequestError.manual(`${shown.join("; ")}${rest > 0 ? `; and ${rest} more problem${rest > 1 ? "s" : ""}` : ""}`);
}

/** Validates a manual invoke (or the EventBridge Scheduler's input, which has the same shape). */
export function parseManualRequest(payload: unknown, via = "manual"): Request {
  const result = safeParse(manualRequestSchema, payload);
  if (!result.success) {
    throw refusal(formatIssues(result.error.issues as never));
  }
  const value = result.data;
  const problems: string[] = [];
  const registries = registryHosts(nonEmptyUnique("registries", value.registries, problems), problems);
  const clusters = nonEmptyUnique("clusters", value.clusters, problems);
  const namespaces = nonEmptyUnique("namespaces", value.namespaces, problems);
  const badNamespaces = (namespaces ?? []).filter((ns) => ns !== "" && !isValidNamespaceName(ns));
  if (badNamespaces.length > 0) {
    problems.push(
      `namespaces: ${boundedList(badNamespaces)} ${badNamespaces.length > 1 ? "are not valid namespace names" : "is not a valid namespace name"} (lower-case DNS label, at most 63 characters)`,
    );
  }
  if (value.action === "rotate" && (clusters || namespaces)) {
    problems.push('clusters and namespaces apply to "heal" and "diagnose", not "rotate"');
  }
  if (value.action === "doctor") {
    // Read-only and about the whole deployment: only the clusters to check can be chosen.
    const given = (["dryRun", "force", "registries", "namespaces"] as const).filter((field) => value[field] !== undefined);
    if (given.length > 0) problems.push(`${given.join(", ")} ${given.length > 1 ? "do" : "does"} not apply to "doctor" (it takes only clusters)`);
  }
  if (value.source === "schedule" && value.action !== "rotate") problems.push('a schedule may only ask for action "rotate"');
  if (value.restartPods !== undefined && value.action !== "heal") problems.push('restartPods applies to "heal" only');
  if (problems.length > 0) throw refusal(problems);
  const scheduled = value.source === "schedule";
  return {
    action: value.action,
    trigger: scheduled ? { kind: "schedule", via: "scheduler-input" } : { kind: "manual", via },
    dryRun: value.dryRun ?? false,
    force: value.force ?? false,
    ...(registries ? { registries } : {}),
    ...(clusters ? { clusters } : {}),
    ...(namespaces ? { namespaces } : {}),
    ...(value.restartPods !== undefined ? { restartPods: value.restartPods } : {}),
  };
}

function clustersOfMetrics(metrics: unknown): string[] | undefined {
  if (!Array.isArray(metrics)) return undefined;
  const names = new Set<string>();
  for (const metric of metrics) {
    const dimensions = (metric as { metricStat?: { metric?: { dimensions?: unknown } } })?.metricStat?.metric?.dimensions;
    const cluster = clusterDimension(dimensions);
    if (cluster !== undefined) names.add(cluster);
  }
  return names.size > 0 ? [...names] : undefined;
}

/**
 * The ClusterName of an alarm metric's dimensions: a map ({"ClusterName": "prod"}, as AWS sends
 * it) or a list of name/value pairs ([{"Name": "ClusterName", "Value": "prod"}], as LocalStack's
 * alarm action sends it).
 */
function clusterDimension(dimensions: unknown): string | undefined {
  if (Array.isArray(dimensions)) {
    const pair = dimensions.find((d): d is { Name: string; Value: unknown } => isRecord(d) && d.Name === "ClusterName");
    return typeof pair?.Value === "string" ? pair.Value : undefined;
  }
  return isRecord(dimensions) && typeof dimensions.ClusterName === "string" ? dimensions.ClusterName : undefined;
}

function alarmDecision(trigger: Trigger): EventDecision {
  if (trigger.alarmState === undefined) {
    throw new BadRequestError(`alarm event (${trigger.via}) has no state value`);
  }
  if (trigger.alarmState !== "ALARM") {
    return { kind: "ignore", trigger, reason: `alarm ${trigger.alarmName ?? "?"} went to ${trigger.alarmState}: nothing to heal` };
  }
  if (trigger.previousAlarmState === "ALARM") {
    return { kind: "ignore", trigger, reason: `alarm ${trigger.alarmName ?? "?"} was already in ALARM: only a transition into ALARM heals` };
  }
  return { kind: "run", request: { action: "heal", trigger, dryRun: false, force: false } };
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/**
 * A direct alarm action's `alarmData` and an EventBridge state change's `detail` have the same
 * shape (alarmName, state, previousState, configuration.metrics).
 */
function classifyAlarmData(via: "alarm-action" | "alarm-eventbridge", data: unknown, missing: string): EventDecision {
  if (!isRecord(data)) throw new BadRequestError(missing);
  const where = via === "alarm-action" ? "alarmData" : "detail";
  // Malformed fields are rejected by name: a state that is not a string is not "some other state".
  const problems: string[] = [];
  if (data.alarmName !== undefined && typeof data.alarmName !== "string")
    problems.push(`${where}.alarmName must be a string (got ${describeShape(data.alarmName)})`);
  /** The `value` of a state field that must be there. */
  const stateValue = (field: "state" | "previousState"): string | undefined => {
    const state = data[field];
    if (!isRecord(state)) {
      problems.push(`${where}.${field} must be an object with a string value (got ${state === undefined ? "nothing" : describeShape(state)})`);
      return undefined;
    }
    if (typeof state.value !== "string") {
      problems.push(`${where}.${field}.value must be a string such as "ALARM" (got ${state.value === undefined ? "nothing" : describeShape(state.value)})`);
      return undefined;
    }
    return state.value;
  };
  const alarmState = stateValue("state");
  // previousState is optional; when present it is checked like state.
  const previousAlarmState = data.previousState === undefined ? undefined : stateValue("previousState");
  if (problems.length > 0) throw new BadRequestError(`malformed CloudWatch alarm event (${via}): ${problems.join("; ")}`);
  const alarm = data as AlarmStateChangeDetail;
  return alarmDecision(
    withoutUndefined({
      kind: "alarm",
      via,
      alarmName: alarm.alarmName,
      alarmState,
      previousAlarmState,
      alarmClusters: clustersOfMetrics(alarm.configuration?.metrics),
    }),
  );
}

function classifySns(event: SNSEvent): EventDecision {
  if (event.Records.length !== 1) throw new BadRequestError(`SNS event with ${event.Records.length} records: expected exactly one alarm message`);
  const message = event.Records[0]?.Sns?.Message;
  let alarm: unknown;
  try {
    alarm = JSON.parse(typeof message === "string" ? message : "");
  } catch {
    throw new BadRequestError("SNS message is not JSON: expected a CloudWatch alarm notification");
  }
  if (!isRecord(alarm) || typeof alarm.NewStateValue !== "string") {
    throw new BadRequestError(
      `SNS message is not a CloudWatch alarm notification (got ${describeShape(alarm)}${isRecord(alarm) && "NewStateValue" in alarm ? `; NewStateValue must be a string, got ${describeShape(alarm.NewStateValue)}` : ""})`,
    );
  }
  const malformed = (["AlarmName", "OldStateValue"] as const).filter((k) => alarm[k] !== undefined && typeof alarm[k] !== "string");
  if (malformed.length > 0) {
    throw new BadRequestError(
      `malformed CloudWatch alarm notification (alarm-sns): ${malformed.map((k) => `${k} must be a string (got ${describeShape(alarm[k])})`).join("; ")}`,
    );
  }
  // Single-metric alarms carry Trigger.Dimensions; metric-math alarms Trigger.Metrics[].MetricStat.Metric.Dimensions.
  const triggerInfo = alarm.Trigger as { Dimensions?: unknown; Metrics?: unknown } | undefined;
  const dimensionLists: unknown[] = [triggerInfo?.Dimensions];
  if (Array.isArray(triggerInfo?.Metrics)) {
    for (const metric of triggerInfo.Metrics)
      dimensionLists.push((metric as { MetricStat?: { Metric?: { Dimensions?: unknown } } })?.MetricStat?.Metric?.Dimensions);
  }
  const clusters = [
    ...new Set(
      dimensionLists
        .filter(Array.isArray)
        .flat()
        .filter((d) => isRecord(d) && d.name === "ClusterName" && typeof d.value === "string")
        .map((d) => (d as { value: string }).value),
    ),
  ];
  return alarmDecision(
    withoutUndefined({
      kind: "alarm",
      via: "alarm-sns",
      alarmName: typeof alarm.AlarmName === "string" ? alarm.AlarmName : undefined,
      alarmState: alarm.NewStateValue,
      previousAlarmState: typeof alarm.OldStateValue === "string" ? alarm.OldStateValue : undefined,
      alarmClusters: clusters.length > 0 ? clusters : undefined,
    }),
  );
}

/** Classifies any Lambda event. Throws BadRequestError for anything it does not accept. */
export function classifyEvent(event: unknown): EventDecision {
  if (!isRecord(event)) throw new BadRequestError(`unsupported event: got ${describeShape(event)}`);

  if (Array.isArray(event.Records)) {
    const first: unknown = event.Records[0];
    if (isRecord(first) && (first.EventSource === "aws:sns" || isRecord(first.Sns))) return classifySns(event as unknown as SNSEvent);
    throw new BadRequestError(`unsupported event: records that are not SNS alarm notifications (got ${describeShape(first)})`);
  }
  if (event.source === "aws.cloudwatch" && "alarmData" in event) {
    return classifyAlarmData("alarm-action", (event as unknown as CloudWatchAlarmEvent).alarmData, "CloudWatch alarm event has no alarmData object");
  }
  if (event["detail-type"] === "CloudWatch Alarm State Change") {
    const detail = (event as unknown as EventBridgeEvent<"CloudWatch Alarm State Change", AlarmStateChangeDetail>).detail;
    return classifyAlarmData("alarm-eventbridge", detail, "CloudWatch Alarm State Change event has no detail object");
  }
  if (event["detail-type"] === "Scheduled Event") {
    const scheduled = event as unknown as ScheduledEvent;
    if (scheduled.source !== "aws.events")
      throw new BadRequestError(`Scheduled Event from unexpected source ${JSON.stringify(String(scheduled.source).slice(0, 60))}`);
    return { kind: "run", request: { action: "rotate", trigger: { kind: "schedule", via: "scheduled-event" }, dryRun: false, force: false } };
  }
  if ("detail-type" in event) {
    throw new BadRequestError(`unsupported EventBridge event: detail-type ${JSON.stringify(String(event["detail-type"]).slice(0, 80))}`);
  }
  if ("Step" in event && "SecretId" in event) {
    throw new BadRequestError("Secrets Manager rotation events are not supported: use the EventBridge schedule (see README)");
  }
  if ("action" in event) return { kind: "run", request: parseManualRequest(event) };
  throw new BadRequestError(
    `unsupported event: got ${describeShape(event)}; expected a schedule, a CloudWatch alarm, or {"action":"rotate"|"heal"|"diagnose"|"doctor"}`,
  );
}
