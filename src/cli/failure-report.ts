/**
 * The JSON Report of a run that could not start (a configuration or request error) with --json:
 * a script that parses standard output still gets `ok: false` and the errors.
 */
import type { Report } from "../report/report";
import { ConfigError } from "../shared/errors";

const ACTIONS = ["rotate", "heal", "diagnose", "doctor"] as const;

export function failureReport(command: string, error: Error): Report {
  const action = (ACTIONS as readonly string[]).includes(command) ? (command as Report["action"]) : "none";
  return {
    ok: false,
    action,
    trigger: { kind: "manual", via: "cli" },
    dryRun: false,
    force: false,
    startedAt: new Date().toISOString(),
    durationMs: 0,
    ecrCalls: 0,
    registries: [],
    tokenSecondsRemaining: null,
    errors: error instanceof ConfigError ? [...error.problems] : [error.message],
  };
}
