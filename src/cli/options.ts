/**
 * The CLI's options: what every command parses, which command takes which option (a table read
 * in order, so the first broken rule is the usage error), and the values that need checking
 * (--now, --timeout). eks-token parses its own options (eks-token.ts) after --function is taken out.
 */
import { parseArgs } from "node:util";
import { didYouMean } from "../formats/close-match";
import { deadlineIn, type Deadline } from "../shared/deadline";

/** The CLI's deadline when --timeout is not given: the Lambda's own maximum. */
export const DEFAULT_CLI_TIMEOUT_SECONDS = 900;

/** Wrong use of the command line: the message is printed with the usage text (exit 2). */
export class UsageError extends Error {}

/** The commands that parse OPTIONS (eks-token has its own parser). */
export const COMMANDS = ["rotate", "heal", "diagnose", "doctor", "invoke"] as const;
export type Command = (typeof COMMANDS)[number];

const OPTIONS = {
  "dry-run": { type: "boolean", default: false },
  force: { type: "boolean", default: false },
  registry: { type: "string", multiple: true },
  cluster: { type: "string", multiple: true },
  namespace: { type: "string", multiple: true },
  event: { type: "string" },
  json: { type: "boolean", default: false },
  now: { type: "string" },
  function: { type: "string" },
  create: { type: "boolean", default: false },
  timeout: { type: "string" },
  output: { type: "string" },
  quiet: { type: "boolean", short: "q", default: false },
  region: { type: "string" },
  profile: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
  // heal: evict the stuck pods its fix cannot reach (needs RESTART_STUCK_PODS=true), or not this time.
  "restart-pods": { type: "boolean", default: false },
  "no-restart-pods": { type: "boolean", default: false },
} as const;

/** Every command the CLI knows, eks-token included (for "did you mean"). */
export const ALL_COMMANDS: readonly string[] = [...COMMANDS, "eks-token"];

/** An unknown command, with the nearest known ones. */
export function unknownCommand(command: string): UsageError {
  return new UsageError(`unknown command ${JSON.stringify(command)}${didYouMean(command, ALL_COMMANDS)}`);
}

type Values = ReturnType<typeof parseOptions>;
type OptionName = keyof typeof OPTIONS;

/** An option that is not one of OPTIONS: named, with the nearest ones (checked before the parse). */
function checkKnownOptions(command: string, args: string[]): void {
  const { tokens } = parseArgs({ args, strict: false, allowPositionals: true, options: OPTIONS, tokens: true });
  const names = Object.keys(OPTIONS);
  for (const token of tokens) {
    if (token.kind === "positional") throw new UsageError(`unexpected argument ${JSON.stringify(token.value)} (${command} takes only options)`);
    if (token.kind !== "option" || names.includes(token.name)) continue;
    throw new UsageError(`unknown option ${token.rawName} for ${command}${didYouMean(token.name, names, (n) => `--${n}`)}`);
  }
}

function parseOptions(args: string[]) {
  return parseArgs({ args, strict: true, allowPositionals: false, options: OPTIONS }).values;
}

/**
 * Which commands take an option: `only` lists the commands that take it, `not` the ones that
 * refuse it (for any other name the unknown command is the error). Checked in this order.
 */
interface OptionRule {
  options: OptionName[];
  only?: string[];
  not?: string[];
  message?: (command: string) => string;
}

const RULES: readonly OptionRule[] = [
  { options: ["registry"], only: ["rotate", "heal"] },
  { options: ["cluster"], only: ["heal", "diagnose", "doctor"] },
  { options: ["namespace"], only: ["heal", "diagnose"] },
  { options: ["dry-run", "force"], not: ["diagnose", "doctor"], message: (command) => `${command} is read-only: --dry-run and --force do not apply` },
  { options: ["event"], only: ["invoke"] },
  { options: ["create"], only: ["rotate", "heal"] },
  { options: ["quiet"], only: ["doctor"] },
  { options: ["restart-pods", "no-restart-pods"], only: ["heal"] },
];

/** An option is given when it has a value; a boolean flag, when it is true. */
const given = (value: unknown): boolean => value !== undefined && value !== false;

function checkRules(command: string, values: Values): void {
  for (const rule of RULES) {
    const option = rule.options.find((name) => given(values[name]));
    if (option === undefined) continue;
    const refused = rule.only ? !rule.only.includes(command) : (rule.not ?? []).includes(command);
    if (refused) throw new UsageError(rule.message ? rule.message(command) : `--${option} is not an option of ${command}`);
  }
}

/** An ISO-8601 instant: date, time and zone (`Z` or an offset), e.g. 2026-12-08T10:00:00Z. */
const ISO_INSTANT = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,9})?)?(?:Z|[+-](\d{2}):(\d{2}))$/;

/** The instant `text` names, or undefined unless it is an ISO-8601 instant of the calendar. */
export function parseIsoInstant(text: string): Date | undefined {
  const m = ISO_INSTANT.exec(text);
  if (m === null) return undefined;
  const [year, month, day, hour, minute, second = 0, offsetHours = 0, offsetMinutes = 0] = m.slice(1).map((v) => (v === undefined ? undefined : Number(v)));
  const daysInMonth = new Date(Date.UTC(year!, month, 0)).getUTCDate();
  if (month! < 1 || month! > 12 || day! < 1 || day! > daysInMonth || hour! > 23 || minute! > 59 || second > 59) return undefined;
  if (offsetHours > 23 || offsetMinutes > 59) return undefined;
  const instant = new Date(text);
  return Number.isNaN(instant.getTime()) ? undefined : instant;
}

/** The clock ECR token expiry is judged against (--now, an ISO-8601 instant only); undefined = the real clock. */
export function clock(now: string | undefined): (() => Date) | undefined {
  if (now === undefined) return undefined;
  const fixed = parseIsoInstant(now.trim());
  if (fixed === undefined) {
    throw new UsageError(`--now ${JSON.stringify(now.slice(0, 64))} is not an ISO-8601 instant: expected a date, a time and a zone, e.g. 2026-12-08T10:00:00Z`);
  }
  const offset = fixed.getTime() - Date.now();
  return () => new Date(Date.now() + offset);
}

/** The run's deadline from --timeout SECONDS (a positive number, at most 86400), reached at once on `interrupt`. */
export function deadlineOf(timeout: string | undefined, interrupt?: AbortSignal): Deadline {
  const clock = interrupt ? { interrupt } : {};
  if (timeout === undefined) return deadlineIn(DEFAULT_CLI_TIMEOUT_SECONDS * 1000, clock);
  const seconds = Number(timeout);
  if (!/^\d+(\.\d+)?$/.test(timeout.trim()) || !(seconds > 0) || seconds > 86_400) {
    throw new UsageError(`--timeout ${JSON.stringify(timeout)}: expected a number of seconds from 0 (exclusive) to 86400`);
  }
  return deadlineIn(seconds * 1000, clock);
}

export interface CommandLine {
  command: Command;
  values: Values;
  /** --now as a clock; undefined = the real clock. */
  now: (() => Date) | undefined;
}

/**
 * A command's options, checked: the parse, --now, the RULES, then the command's name. --timeout
 * is checked by the caller (deadlineOf) once the environment is resolved.
 */
export function parseCommandLine(command: string, args: string[]): CommandLine {
  if (!(COMMANDS as readonly string[]).includes(command)) throw unknownCommand(command);
  checkKnownOptions(command, args);
  const values = parseOptions(args);
  if (values.help) return { command: command as Command, values, now: undefined };
  const now = clock(values.now);
  checkRules(command, values);
  checkOutput(values.output);
  return { command: command as Command, values, now };
}

/** --output json|table (like the AWS CLI's --output). */
function checkOutput(output: string | undefined): void {
  if (output === undefined || output === "json" || output === "table") return;
  throw new UsageError(`--output ${JSON.stringify(output)}: expected json or table${didYouMean(output, ["json", "table"])}`);
}

/** The Report is printed as JSON: --json or --output json. */
export const asJson = (values: { json: boolean; output?: string | undefined }): boolean => values.json || values.output === "json";

/** Whether the raw arguments ask for JSON (for errors found before the options are parsed). */
export const argsAskForJson = (args: readonly string[]): boolean =>
  args.some((a, i) => a === "--json" || a === "--output=json" || (a === "--output" && args[i + 1] === "json"));

/** `args` without `--name VALUE` (or `--name=VALUE`), and that VALUE. */
export function takeOption(args: string[], name: string, what = "a NAME"): { args: string[]; value?: string } {
  const at = args.findIndex((a) => a === `--${name}` || a.startsWith(`--${name}=`));
  if (at < 0) return { args };
  const inline = args[at]!.includes("=");
  const value = inline ? args[at]!.slice(`--${name}=`.length) : args[at + 1];
  if (!value) throw new UsageError(`--${name} needs ${what}`);
  return { args: [...args.slice(0, at), ...args.slice(at + (inline ? 1 : 2))], value };
}

/** eks-token's arguments without --function NAME (or --function=NAME), and that NAME. */
export function takeFunctionOption(args: string[]): { args: string[]; functionName?: string } {
  const { args: rest, value } = takeOption(args, "function");
  return value === undefined ? { args: rest } : { args: rest, functionName: value };
}
