/**
 * ecr-token-rotator CLI — the same core as the Lambda, for an incident laptop or a replay.
 *
 *   rotate   [--dry-run] [--force] [--create] [--registry HOST]... [--json] [--now ISO] [--timeout SECONDS]
 *   heal     [--cluster NAME]... [--namespace NS]... [--dry-run] [--force] [--create] [--json] [--now ISO] [--timeout SECONDS]
 *   diagnose [--cluster NAME]... [--namespace NS]... [--json]   why pods are stuck pulling (read-only)
 *   doctor   [--cluster NAME]... [--json] [--now ISO] [--timeout SECONDS]   is the deployment wired right? (read-only)
 *   invoke   --event FILE|- [--json] [--now ISO]     feed any Lambda event through the handler path
 *   eks-token --cluster NAME [--region R] [--check]  ExecCredential JSON, like `aws eks get-token`
 * Every command takes --function NAME: act with the deployed function's configuration; --help
 * on every command, --version, --profile/--region like the AWS CLI, --output json beside --json.
 *
 * Every run has a deadline (--timeout, default 900 s): work left when it passes is reported
 * `skipped` (reason `deadline`) and the run fails (exit 1), the Report is still printed.
 * Ctrl-C (SIGINT): no new work starts, what is in flight is aborted, the partial Report is
 * printed (what was written; the rest `skipped`, reason `interrupted`), exit 130. A second
 * Ctrl-C exits at once.
 *
 * Exit codes: 0 success, 1 the run failed (see the report), 2 bad usage, configuration or request,
 * 130 interrupted.
 * For doctor: 0 when no check failed, 1 when one did.
 */
import { readFile } from "node:fs/promises";
import { version } from "../../package.json";
import { createApp } from "../app/app";
import type { KubernetesStepDeps } from "../clusters/step";
import { configVariableNames, type Config } from "../config/config";
import { BadRequestError, ConfigError, describeError } from "../shared/errors";
import { formatReport, type FormatOptions, type Report } from "../report/report";
import { formatQuiet } from "./quiet";
import { fitToWidth } from "../report/table";
import type { GetFunctionConfigurationFn } from "./function-config";
import { progressReporter, waitingReporter } from "./progress";
import { defaultOnlyRefusal, describeTarget, type ConfigSource, type TargetOptions } from "./target";
import { handleEvent, runRequest } from "../run/run";
import { parseManualRequest } from "../request/triggers";
import type { Deadline } from "../shared/deadline";
import { commandHelp, USAGE } from "./help";
import { failureReport } from "./failure-report";
import { applyProfile } from "./profile";
import {
  ALL_COMMANDS,
  argsAskForJson,
  asJson,
  deadlineOf,
  parseCommandLine,
  takeFunctionOption,
  takeOption,
  unknownCommand,
  UsageError,
  type Command,
  type CommandLine,
} from "./options";

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
  /** Aborted on the first Ctrl-C: the run's deadline is then reached at once. */
  interrupt?: AbortSignal;
  /** lambda:GetFunctionConfiguration for --function (tests); default: @aws-sdk/client-lambda. */
  getFunctionConfiguration?: GetFunctionConfigurationFn;
}

/** Progress of the Kubernetes step (src/cli/progress.ts). */
function progress(io: CliIo, command: string): KubernetesStepDeps | undefined {
  const write = io.progress;
  if (write === undefined || command === "rotate") return undefined;
  return { onProgress: progressReporter(write, { terminal: io.progressIsTerminal === true }) };
}

/** Says on stderr what the run waits on while a request goes unanswered; returns its stop. */
function watchWaiting(io: CliIo): () => void {
  if (io.progress === undefined) return () => undefined;
  const reporter = waitingReporter(io.progress, { terminal: io.progressIsTerminal === true });
  const timer = setInterval(reporter.tick, 1_000);
  timer.unref();
  return () => {
    clearInterval(timer);
    reporter.stop();
  };
}

/**
 * The environment a command runs with: this shell's, or with --function the deployed function's
 * configuration under this shell's product variables (src/cli/function-config.ts, loaded only here).
 * `region` (--region) is where the function is looked up; it never becomes the configuration's.
 */
async function resolveEnvironment(
  io: CliIo,
  functionName: string | undefined,
  region?: string,
): Promise<{ env: Record<string, string | undefined>; source: ConfigSource }> {
  if (functionName === undefined) return { env: io.env, source: {} };
  const { readFunctionConfiguration, mergeFunctionEnvironment, FunctionConfigError } = await import("./function-config");
  try {
    const lookup = region === undefined ? io.env : { ...io.env, AWS_REGION: region };
    const fn = await readFunctionConfiguration(functionName, lookup, io.getFunctionConfiguration);
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
function announce(io: CliIo, command: string, config: Config, source: ConfigSource, target: TargetOptions): void {
  io.stderr(describeTarget(command, config, source, target));
  for (const warning of config.warnings ?? []) io.stderr(`warning: ${warning}`);
}

/** What a command runs with: its checked options, the environment and where it came from. */
interface CommandContext extends CommandLine {
  io: CliIo;
  env: Record<string, string | undefined>;
  source: ConfigSource;
}

/** Prints the Report (as JSON with --json/--output json, else as text) and returns its exit code. */
function print(io: CliIo, report: Report, { values, source }: Pick<CommandContext, "values" | "source">): number {
  const options: FormatOptions = {};
  if (io.columns !== undefined) options.width = io.columns;
  if (source.function) options.rerunOptions = `--function ${source.function.name}`;
  if (asJson(values)) io.stdout(JSON.stringify(report, null, 2));
  else {
    const text = values.quiet ? formatQuiet(report, options) : formatReport(report, options);
    io.stdout(io.columns === undefined ? text : fitToWidth(text, io.columns));
  }
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
  announce(io, command, app.config, source, { clusters: values.cluster, registries: values.registry, namespaces: values.namespace });
  // The deadline-bound dependencies are built afresh: the --create guard goes on those.
  const deps = bind(app, deadlineOf(values.timeout, io.interrupt));
  if (!readOnly && !values.create) deps.refuseCreate = defaultOnlyRefusal(env, source);
  return print(io, await runRequest(request, app.config, deps), { values, source });
}

/** invoke: a Lambda event from a file or standard input, through the handler path. */
async function invokeCommand({ io, command, values, now, env, source }: CommandContext): Promise<number> {
  if (values.event === undefined) throw new UsageError("invoke needs --event FILE (or - for standard input)");
  const text = values.event === "-" ? await io.readStdin() : await readEventFile(values.event);
  let event: unknown;
  try {
    event = JSON.parse(text);
  } catch {
    throw new BadRequestError(`${values.event === "-" ? "standard input" : values.event} is not JSON`);
  }
  const app = createApp(env, { tokenNow: now, kubernetes: progress(io, command) });
  announce(io, command, app.config, source, {});
  return print(io, await handleEvent(event, app.config, bind(app, deadlineOf(values.timeout, io.interrupt))), { values, source });
}

/** --event FILE: its text; a file that cannot be read is a bad request (exit 2) naming it and why. */
async function readEventFile(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EACCES" ? "permission denied" : code === "EISDIR" ? "it is a directory" : describeError(error);
    throw new BadRequestError(`--event ${file}: cannot read it (${why})`);
  }
}

const HANDLERS: Record<Command, (context: CommandContext) => Promise<number>> = {
  rotate: requestCommand,
  heal: requestCommand,
  diagnose: requestCommand,
  doctor: requestCommand,
  invoke: invokeCommand,
};

/** eks-token parses its own options (eks-token.ts, loaded only for it); --function and --profile are taken out first. */
async function eksToken(io: CliIo, argv: string[]): Promise<number> {
  const { eksTokenCommand } = await import("./eks-token");
  const { args: withoutProfile, value: profile } = takeOption(argv, "profile");
  if (profile !== undefined) await applyProfile(io.env, profile);
  const { args, functionName } = takeFunctionOption(withoutProfile);
  const { env, source } = await resolveEnvironment(io, functionName);
  return eksTokenCommand(args, {
    env,
    stdout: io.stdout,
    stderr: io.stderr,
    ...(source.function ? { source: `function ${source.function.name}` } : {}),
    ...(io.columns !== undefined ? { terminal: true } : {}),
  });
}

/**
 * The exit code of a failed command, its message on standard error (with where help is for a
 * usage error). A configuration or request error with --json also writes a JSON Report (ok=false).
 */
function exitCodeOf(io: CliIo, error: unknown, argv: readonly string[]): number {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    const command = ALL_COMMANDS.includes(argv[0] ?? "") ? argv[0] : "<command>";
    io.stderr(`ecr-token-rotator: ${(error as Error).message}\n(ecr-token-rotator ${command} --help: the options and an example)`);
    return 2;
  }
  if (error instanceof ConfigError || error instanceof BadRequestError) {
    io.stderr(`ecr-token-rotator: ${error.message}`);
    if (argsAskForJson(argv)) io.stdout(JSON.stringify(failureReport(argv[0] ?? "", error), null, 2));
    return 2;
  }
  io.stderr(`ecr-token-rotator: ${describeError(error)}`);
  return 1;
}

const HELP_WORDS = ["-h", "--help", "help"];

/** The overview, a command's help page (`help heal` too) or the version, when that is what is asked. */
function helpOrVersion(io: CliIo, argv: readonly string[]): number | undefined {
  const [command, ...rest] = argv;
  if (command === undefined || HELP_WORDS.includes(command)) {
    io.stdout(rest[0] !== undefined && ALL_COMMANDS.includes(rest[0]) ? commandHelp(rest[0]) : USAGE);
    return command === undefined ? 2 : 0;
  }
  if (command === "--version" || command === "version") {
    io.stdout(`ecr-token-rotator ${version} (node ${process.versions.node})`);
    return 0;
  }
  return undefined;
}

/** Parse → resolve the environment → run the command → its exit code (errors mapped by exitCodeOf). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const early = helpOrVersion(io, argv);
  if (early !== undefined) return early;
  const [command = "", ...rest] = argv;
  try {
    if (command === "eks-token") return await eksToken(io, rest);
    if (!ALL_COMMANDS.includes(command)) throw unknownCommand(command);
    const line = parseCommandLine(command, rest);
    if (line.values.help) {
      io.stdout(commandHelp(command));
      return 0;
    }
    if (line.values.profile !== undefined) await applyProfile(io.env, line.values.profile);
    const { env, source } = await resolveEnvironment(io, line.values.function, line.values.region);
    // Parsed before anything runs; the clock starts when the run does.
    deadlineOf(line.values.timeout);
    const stopWatching = watchWaiting(io);
    try {
      return await HANDLERS[line.command]({ ...line, io, env, source });
    } finally {
      stopWatching();
    }
  } catch (error) {
    return exitCodeOf(io, error, argv);
  }
}

/**
 * Ctrl-C: the first stops the run (see the header), the second exits at once (130). The
 * launcher (bin/ecr-token-rotator.mjs) ignores SIGINT itself when it re-runs this under Node 22.
 */
function onInterrupt(): AbortSignal {
  const interrupt = new AbortController();
  process.on("SIGINT", () => {
    if (interrupt.signal.aborted) process.exit(130);
    process.stderr.write("\ninterrupted: no new work starts, the work in flight is aborted; the partial Report follows (Ctrl-C again exits at once)\n");
    interrupt.abort();
  });
  return interrupt.signal;
}

export async function main(): Promise<void> {
  const interrupt = onInterrupt();
  const code = await runCli(process.argv.slice(2), {
    interrupt,
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
  process.exitCode = interrupt.aborted ? 130 : code;
}
