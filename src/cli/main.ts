/**
 * ecr-token-rotator CLI — the same core as the Lambda, for an incident laptop or a replay.
 *
 *   rotate   [--dry-run] [--force] [--create] [--registry HOST]... [--json] [--now ISO] [--timeout SECONDS]
 *   heal     [--cluster NAME]... [--namespace NS]... [--dry-run] [--force] [--create] [--json] [--now ISO] [--timeout SECONDS]
 *   diagnose [--cluster NAME]... [--namespace NS]... [--json]   why pods are stuck pulling (read-only)
 *   doctor   [--cluster NAME]... [--json] [--now ISO] [--timeout SECONDS]   is the deployment wired right? (read-only)
 *   invoke   --event FILE|- [--json] [--now ISO]     feed any Lambda event through the handler path
 *   eks-token --cluster NAME [--region R] [--check]  ExecCredential JSON, like `aws eks get-token`
 * Every command takes --function NAME: act with the deployed function's configuration.
 *
 * Every run has a deadline (--timeout, default 900 s): work left when it passes is reported
 * `skipped` (reason `deadline`) and the run fails (exit 1), the Report is still printed.
 *
 * Exit codes: 0 success, 1 the run failed (see the report), 2 bad usage, configuration or request.
 * For doctor: 0 when no check failed, 1 when one did.
 */
import { readFile } from "node:fs/promises";
import { createApp } from "../app/app";
import type { KubernetesStepDeps } from "../clusters/step";
import { configVariableNames, type Config } from "../config/config";
import { BadRequestError, ConfigError, describeError } from "../shared/errors";
import { formatReport, type FormatOptions, type Report } from "../report/report";
import type { GetFunctionConfigurationFn } from "./function-config";
import { progressReporter } from "./progress";
import { defaultOnlyRefusal, describeTarget, type ConfigSource } from "./target";
import { handleEvent, runRequest } from "../run/run";
import { parseManualRequest } from "../request/triggers";
import type { Deadline } from "../shared/deadline";
import { deadlineOf, DEFAULT_CLI_TIMEOUT_SECONDS, parseCommandLine, takeFunctionOption, UsageError, type Command, type CommandLine } from "./options";

export { DEFAULT_CLI_TIMEOUT_SECONDS } from "./options";

export interface CliIo {
  env: Record<string, string | undefined>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  readStdin: () => Promise<string>;
  /** Progress lines go here while namespaces are applied; undefined = no progress. */
  progress?: ((text: string) => void) | undefined;
  /** The progress output is a terminal (one rewritten line) rather than a log (a line every 10% or 5 s). */
  progressIsTerminal?: boolean;
  /** Width of the terminal the table goes to; undefined = not a terminal (no wrapping). */
  columns?: number | undefined;
  /** lambda:GetFunctionConfiguration for --function (tests); default: @aws-sdk/client-lambda. */
  getFunctionConfiguration?: GetFunctionConfigurationFn;
}

/** Progress of the Kubernetes step (src/cli/progress.ts). */
function progress(io: CliIo, command: string): KubernetesStepDeps | undefined {
  const write = io.progress;
  if (write === undefined || command === "rotate") return undefined;
  return { onProgress: progressReporter(write, { terminal: io.progressIsTerminal === true }) };
}

/**
 * The environment a command runs with: this shell's, or with --function the deployed function's
 * configuration under this shell's product variables (src/cli/function-config.ts, loaded only here).
 */
async function resolveEnvironment(io: CliIo, functionName: string | undefined): Promise<{ env: Record<string, string | undefined>; source: ConfigSource }> {
  if (functionName === undefined) return { env: io.env, source: {} };
  const { readFunctionConfiguration, mergeFunctionEnvironment, FunctionConfigError } = await import("./function-config");
  try {
    const fn = await readFunctionConfiguration(functionName, io.env, io.getFunctionConfiguration);
    const merged = mergeFunctionEnvironment(fn, io.env, configVariableNames());
    return {
      env: merged.env,
      source: { function: { name: fn.functionName, arn: fn.functionArn, accountId: fn.accountId, overridden: merged.overridden, added: merged.added } },
    };
  } catch (error) {
    if (error instanceof FunctionConfigError) throw new BadRequestError(error.message);
    throw error;
  }
}

/** The first lines on standard error: what the command acts on, then the configuration's warnings. */
function announce(io: CliIo, command: string, config: Config, source: ConfigSource, clusters: string[] | undefined): void {
  io.stderr(describeTarget(command, config, source, clusters ? { clusters } : {}));
  for (const warning of config.warnings ?? []) io.stderr(`warning: ${warning}`);
}

const USAGE = `usage: ecr-token-rotator <command> [options]

commands:
  rotate     fetch fresh ECR tokens and write them to Secrets Manager
             [--dry-run] [--force] [--create] [--registry HOST]... [--json]
  heal       rotate, then push pull secrets into every configured cluster and re-sync ESO
             [--cluster NAME]... [--namespace NS]... [--dry-run] [--force] [--create] [--json]
             [--restart-pods | --no-restart-pods]
  diagnose   say why each pod stuck in ErrImagePull/ImagePullBackOff is stuck (read-only:
             no ECR call, nothing written but an Event on each stuck pod; RECORD_EVENTS=false: none)
             [--cluster NAME]... [--namespace NS]... [--json]
  doctor     is this deployment wired right? a checklist (AWS identity, ECR tokens, the
             token at each registry, each secret, each cluster), a fix under every failed
             line; read-only (exit 0: nothing failed, 1: a check failed)
             [--cluster NAME]... [--json]
  invoke     run a Lambda event (schedule, alarm, manual payload) through the handler path
             --event FILE|- [--json]
  eks-token  print an EKS bearer token as ExecCredential JSON (like aws eks get-token);
             --check asks the cluster who it thinks we are (SelfSubjectReview)
             --cluster NAME [--region R] [--check]

common options:
  --function NAME  act with the deployed function's configuration (its environment and region,
                read with lambda:GetFunctionConfiguration); product variables set in this
                shell override the function's one by one
  --restart-pods / --no-restart-pods
                heal: evict the stuck pods the fix cannot reach by itself (kubelet back-off,
                pods admitted before their ServiceAccount had the pull secret) — only when
                RESTART_STUCK_PODS=true allows it — or not this time
  --create      with only default configuration (no --function, SECRET_NAME or ECR_REGISTRIES),
                rotate/heal refuse to create a missing secret unless this is given
  --json        print the Report as JSON instead of a table
  --now ISO     judge ECR token expiry as of this instant (for emulators whose tokens
                carry a fixed expiry, and for replays)
  --timeout S   the run's deadline in seconds (default ${DEFAULT_CLI_TIMEOUT_SECONDS}): work left then is
                reported "skipped: deadline" and the run fails (exit 1)
  -h, --help    this text

Configuration comes from the same environment variables as the Lambda (see README), or from
the deployed function with --function. The first line on standard error says what a command
acts on and where its configuration came from.`;

/** What a command runs with: its checked options, the environment and where it came from. */
interface CommandContext extends CommandLine {
  io: CliIo;
  env: Record<string, string | undefined>;
  source: ConfigSource;
}

/** Prints the Report (as JSON with `asJson`, else as text) and returns its exit code. */
function print(io: CliIo, report: Report, { asJson, source }: { asJson: boolean; source: ConfigSource }): number {
  const options: FormatOptions = {};
  if (io.columns !== undefined) options.width = io.columns;
  if (source.function) options.rerunOptions = `--function ${source.function.name}`;
  io.stdout(asJson ? JSON.stringify(report, null, 2) : formatReport(report, options));
  return report.ok ? 0 : 1;
}

const bind = (app: ReturnType<typeof createApp>, deadline: Deadline) => app.withDeadline?.(deadline) ?? { ...app.deps, deadline };

/** rotate, heal, diagnose, doctor: the options as a manual request, run like the Lambda's. */
async function requestCommand({ io, command, values, now, env, source }: CommandContext): Promise<number> {
  const readOnly = command === "diagnose" || command === "doctor";
  const payload: Record<string, unknown> = readOnly ? { action: command } : { action: command, dryRun: values["dry-run"], force: values.force };
  if (values.registry) payload.registries = values.registry;
  if (values.cluster) payload.clusters = values.cluster;
  if (values.namespace) payload.namespaces = values.namespace;
  if (values["restart-pods"] && values["no-restart-pods"]) throw new UsageError("--restart-pods and --no-restart-pods: give one");
  if (values["restart-pods"] || values["no-restart-pods"]) payload.restartPods = values["restart-pods"];
  const request = parseManualRequest(payload, "cli");
  const app = createApp(env, { tokenNow: now, kubernetes: progress(io, command), purpose: command === "diagnose" ? "diagnose" : "rotate" });
  announce(io, command, app.config, source, request.clusters);
  // The deadline-bound dependencies are built afresh: the --create guard goes on those.
  const deps = bind(app, deadlineOf(values.timeout));
  if (!readOnly && !values.create) deps.refuseCreate = defaultOnlyRefusal(env, source);
  return print(io, await runRequest(request, app.config, deps), { asJson: values.json, source });
}

/** invoke: a Lambda event from a file or standard input, through the handler path. */
async function invokeCommand({ io, command, values, now, env, source }: CommandContext): Promise<number> {
  if (values.event === undefined) throw new UsageError("invoke needs --event FILE (or - for standard input)");
  const text = values.event === "-" ? await io.readStdin() : await readFile(values.event, "utf8");
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw new BadRequestError(`${values.event === "-" ? "standard input" : values.event} is not JSON`);
  }
  const app = createApp(env, { tokenNow: now, kubernetes: progress(io, command) });
  announce(io, command, app.config, source, undefined);
  return print(io, await handleEvent(event, app.config, bind(app, deadlineOf(values.timeout))), { asJson: values.json, source });
}

const HANDLERS: Record<Command, (context: CommandContext) => Promise<number>> = {
  rotate: requestCommand,
  heal: requestCommand,
  diagnose: requestCommand,
  doctor: requestCommand,
  invoke: invokeCommand,
};

/** eks-token parses its own options (eks-token.ts, loaded only for it); --function is taken out first. */
async function eksToken(io: CliIo, argv: string[]): Promise<number> {
  const { eksTokenCommand } = await import("./eks-token");
  const { args, functionName } = takeFunctionOption(argv);
  const { env, source } = await resolveEnvironment(io, functionName);
  return eksTokenCommand(args, {
    env,
    stdout: io.stdout,
    stderr: io.stderr,
    ...(source.function ? { source: `function ${source.function.name}` } : {}),
    ...(io.columns !== undefined ? { terminal: true } : {}),
  });
}

/** The exit code of a failed command, its message on standard error (with the usage text for a usage error). */
function exitCodeOf(io: CliIo, error: unknown): number {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    io.stderr(`ecr-token-rotator: ${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (error instanceof ConfigError || error instanceof BadRequestError) {
    io.stderr(`ecr-token-rotator: ${error.message}`);
    return 2;
  }
  io.stderr(`ecr-token-rotator: ${describeError(error)}`);
  return 1;
}

/** Parse → resolve the environment → run the command → its exit code (errors mapped by exitCodeOf). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "-h" || command === "--help" || command === "help") {
    io.stdout(USAGE);
    return command === undefined ? 2 : 0;
  }
  try {
    if (command === "eks-token") return await eksToken(io, rest);
    const line = parseCommandLine(command, rest);
    const { env, source } = await resolveEnvironment(io, line.values.function);
    // Parsed before anything runs; the clock starts when the run does.
    deadlineOf(line.values.timeout);
    return await HANDLERS[line.command]({ ...line, io, env, source });
  } catch (error) {
    return exitCodeOf(io, error);
  }
}

export async function main(): Promise<void> {
  const code = await runCli(process.argv.slice(2), {
    env: process.env,
    stdout: (text) => process.stdout.write(`${text}\n`),
    stderr: (text) => process.stderr.write(`${text}\n`),
    progress: (text) => process.stderr.write(text),
    progressIsTerminal: process.stderr.isTTY === true,
    columns: process.stdout.isTTY ? process.stdout.columns : undefined,
    readStdin: async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks).toString("utf8");
    },
  });
  process.exitCode = code;
}
