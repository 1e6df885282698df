/**
 * Lambda entry point: classify the event, run the core, log/measure, return the Report.
 * A run with any failure throws (after every step was tried), so async retries, the failure
 * destination and the Errors alarm see it. Except the doctor: a failed check is a finding, not
 * a failed invocation — its Report is returned (no retry, no Errors alarm).
 */
import type { Context } from "aws-lambda";
import { createApp, type App } from "../src/app/app";
import { RunFailedError } from "../src/shared/errors";
import { deadlineFromLambdaContext, type Deadline } from "../src/shared/deadline";
import type { Report } from "../src/report/report";
import { handleEvent } from "../src/run/run";
import { powertoolsTelemetry, type Telemetry } from "../src/run/telemetry";

/**
 * The invocation's deadline: the Lambda's remaining time minus a reserve for reporting (so the
 * Report, the summary log line and the metrics go out before Lambda stops the function). No
 * context (a direct call in a test or a tool): no deadline, each call keeps its own timeout.
 */
function invocationDeadline(context: Context | undefined): Deadline | undefined {
  return typeof context?.getRemainingTimeInMillis === "function" ? deadlineFromLambdaContext(context) : undefined;
}

/**
 * Configuration is validated once, at cold start (module initialisation); a bad one fails every
 * invocation with the same list of problems. Its warnings (a variable the product does not read,
 * e.g. ECR_REGISTRY for ECR_REGISTRIES) are logged once, as JSON lines like the logger's.
 */
const app: App | Error = (() => {
  try {
    const created = createApp();
    for (const warning of created.config.warnings ?? []) console.warn(JSON.stringify({ level: "WARN", message: "configuration warning", warning }));
    return created;
  } catch (error) {
    return error as Error;
  }
})();

function getApp(): App {
  if (app instanceof Error) throw app;
  return app;
}

export function createHandler(appFactory: () => App, telemetryFactory: () => Telemetry = powertoolsTelemetry) {
  // Made with the handler (for the exported one: at cold start), not in the first invocation.
  const telemetry = telemetryFactory();
  return async (event: unknown, context?: Context): Promise<Report> => {
    telemetry.invocationStarted(context);
    const deadline = invocationDeadline(context);
    let report: Report;
    try {
      const app = appFactory();
      const deps = deadline === undefined ? app.deps : (app.withDeadline?.(deadline) ?? { ...app.deps, deadline });
      report = await handleEvent(event, app.config, deps);
    } catch (error) {
      telemetry.reportRejected(error);
      throw error;
    }
    telemetry.reportFinished(report);
    if (!report.ok && report.action !== "doctor") throw new RunFailedError(`ecr-token-rotator run failed: ${report.errors.join("; ")}`, report);
    return report;
  };
}

export const handler = createHandler(getApp);
