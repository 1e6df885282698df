/**
 * The CLI's options: what every command parses, which command takes which option (a table read
 * in order, so the first broken rule is the usage error), and the values that need checking
 * (--now, --timeout). eks-token parses its own options (eks-token.ts) after --function is taken out.
 */
import { parseArgs } from "node:util";
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
  // heal: evict the stuck pods its fix cannot reach (needs RESTART_STUCK_PODS=true), or not this time.
  "restart-pods": { type: "boolean", default: false },
  "no-restart-pods": { type: "boolean", default: false },
} as const;

type Values = ReturnType<typeof parseOptions>;
type OptionName = keyof typeof OPTIONS;

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

/** The clock ECR token expiry is judged against (--now); undefined = the real clock. */
export function clock(now: string | undefined): (() => Date) | undefined {
  if (now === undefined) return undefined;
  const fixed = new Date(now);
  if (Number.isNaN(fixed.getTime())) throw new UsageError(`--now ${JSON.stringify(now)} is not an ISO-8601 instant`);
  const offset = fixed.getTime() - Date.now();
  return () => new Date(Date.now() + offset);
}

/** The run's deadline from --timeout SECONDS (a positive number, at most 86400). */
export function deadlineOf(timeout: string | undefined): Deadline {
  if (timeout === undefined) return deadlineIn(DEFAULT_CLI_TIMEOUT_SECONDS * 1000);
  const seconds = Number(timeout);
  if (!/^\d+(\.\d+)?$/.test(timeout.trim()) || !(seconds > 0) || seconds > 86_400) {
    throw new UsageError(`--timeout ${JSON.stringify(timeout)}: expected a number of seconds from 0 (exclusive) to 86400`);
  }
  return deadlineIn(seconds * 1000);
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
  const values = parseOptions(args);
  const now = clock(values.now);
  checkRules(command, values);
  if (!(COMMANDS as readonly string[]).includes(command)) throw new UsageError(`unknown command ${JSON.stringify(command)}`);
  return { command: command as Command, values, now };
}

/** eks-token's arguments without --function NAME (or --function=NAME), and that NAME. */
export function takeFunctionOption(args: string[]): { args: string[]; functionName?: string } {
  const at = args.findIndex((a) => a === "--function" || a.startsWith("--function="));
  if (at < 0) return { args };
  const inline = args[at]!.includes("=");
  const functionName = inline ? args[at]!.slice("--function=".length) : args[at + 1];
  if (!functionName) throw new UsageError("--function needs a NAME");
  return { args: [...args.slice(0, at), ...args.slice(at + (inline ? 1 : 2))], functionName };
}
