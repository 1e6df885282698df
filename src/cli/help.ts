/**
 * The CLI's help: the overview (`ecr-token-rotator --help`) and one page per command
 * (`ecr-token-rotator <command> --help`): usage, options, an example. Pure text.
 */
import { wrapText } from "../report/table";
import { DEFAULT_CLI_TIMEOUT_SECONDS } from "./options";

const COMMON = `common options:
  --function NAME   act with the deployed function's configuration (its environment and region,
                    read with lambda:GetFunctionConfiguration); product variables set in this
                    shell override the function's one by one
  --profile NAME    AWS credentials from this profile (~/.aws/config, ~/.aws/credentials), like
                    the AWS CLI; it chooses credentials, never what the command acts on
  --region REGION   the region of the --function lookup (like the AWS CLI's --region); the
                    registries', secrets' and clusters' regions come from the configuration
  --json, --output json   print the Report as JSON instead of a table (--output table: the table)
  --now ISO         judge ECR token expiry as of this instant (emulators, replays)
  --timeout S       the run's deadline in seconds (default ${DEFAULT_CLI_TIMEOUT_SECONDS}): work left then is
                    reported "skipped: deadline" and the run fails (exit 1)
  -h, --help        this text`;

const EXIT = `exit codes: 0 success; 1 the run failed (the Report says what); 2 bad usage, configuration
or request (nothing was changed)`;

export const USAGE = `usage: ecr-token-rotator <command> [options]
       ecr-token-rotator <command> --help      options and an example for one command
       ecr-token-rotator --version

commands:
  rotate     fetch fresh ECR tokens and write them to Secrets Manager
  heal       rotate, then push pull secrets into every configured cluster and re-sync ESO
  diagnose   say why each pod stuck in ErrImagePull/ImagePullBackOff is stuck (read-only)
  doctor     is this deployment wired right? a checklist with a fix under every failed line
  invoke     run a Lambda event (schedule, alarm, manual payload) through the handler path
  eks-token  print an EKS bearer token as ExecCredential JSON (like aws eks get-token)

${COMMON}

Configuration comes from the same environment variables as the Lambda (see README), or from
the deployed function with --function. The first line on standard error says what a command
acts on and where its configuration came from.

${EXIT}`;

interface Page {
  summary: string;
  usage: string;
  options: string;
  examples: string[];
}

const PAGES: Record<string, Page> = {
  rotate: {
    summary: "Fetch fresh ECR tokens and write them to Secrets Manager (a new version only when the token changed).",
    usage: "rotate [--registry HOST]... [--dry-run] [--force] [--create]",
    options: `  --registry HOST   only this configured registry (repeatable)
  --dry-run         fetch and compare, write nothing
  --force           write a new version even inside the debounce window
  --create          with only default configuration, allow creating a missing secret`,
    examples: ["ecr-token-rotator rotate --function ecr-token-rotator-prod-rotate --dry-run"],
  },
  heal: {
    summary: "Rotate, then write the pull Secret into each target namespace of each configured cluster and re-sync ESO; ends with a diagnosis.",
    usage: "heal [--cluster NAME]... [--namespace NS]... [--registry HOST]... [--dry-run] [--force] [--create]",
    options: `  --cluster NAME    only this configured cluster (name or region:name; repeatable)
  --namespace NS    only this namespace (repeatable); one that does not exist is an error
  --registry HOST   only this configured registry (repeatable)
  --dry-run         read and compare, write nothing
  --force           write a new secret version even inside the debounce window
  --create          with only default configuration, allow creating a missing secret`,
    examples: ["ecr-token-rotator heal --function ecr-token-rotator-prod-rotate --cluster prod-eu --namespace team-a"],
  },
  diagnose: {
    summary: "Say why each pod stuck in ErrImagePull/ImagePullBackOff is stuck. Read-only: no ECR call, nothing written.",
    usage: "diagnose [--cluster NAME]... [--namespace NS]...",
    options: `  --cluster NAME    only this configured cluster (name or region:name; repeatable)
  --namespace NS    only this namespace (repeatable); one that does not exist is an error`,
    examples: ["ecr-token-rotator diagnose --function ecr-token-rotator-prod-rotate --cluster prod-eu"],
  },
  doctor: {
    summary:
      "Is this deployment wired right? A checklist (AWS identity, ECR tokens, the token at each registry, each secret, each cluster), a fix under every failed line. Read-only; exit 0 when nothing failed, 1 when a check did.",
    usage: "doctor [--cluster NAME]... [--quiet]",
    options: `  --cluster NAME    only this configured cluster (repeatable)
  -q, --quiet       print only the failed checks (with their fixes) and the summary`,
    examples: ["ecr-token-rotator doctor --function ecr-token-rotator-prod-rotate --quiet"],
  },
  invoke: {
    summary: "Run a Lambda event (schedule, alarm, manual payload) through the handler path.",
    usage: "invoke --event FILE|-",
    options: `  --event FILE      the event as JSON (- reads standard input)`,
    examples: ["ecr-token-rotator invoke --event alarm.json --json", `echo '{"action":"rotate","dryRun":true}' | ecr-token-rotator invoke --event -`],
  },
};

/** The help page of a command (usage, its options, the common ones, an example). */
export function commandHelp(command: string): string {
  const page = PAGES[command];
  if (page === undefined) return USAGE;
  return `usage: ecr-token-rotator ${page.usage} [common options]

${wrapText(page.summary, 94).join("\n")}

options:
${page.options}

${COMMON}

example${page.examples.length > 1 ? "s" : ""}:
${page.examples.map((e) => `  ${e}`).join("\n")}

${EXIT}`;
}
