import { scrubSecrets } from "./redact";

/** Errors the product raises on purpose. Their messages never carry secret material. */

/** Bad configuration: every problem found, at once. */
export class ConfigError extends Error {
  constructor(
    readonly problems: readonly string[],
    /** Probable mistakes found alongside (e.g. EKS_CLUSTER set instead of EKS_CLUSTERS). */
    readonly warnings: readonly string[] = [],
  ) {
    super(
      `invalid configuration (${problems.length} problem${problems.length === 1 ? "" : "s"}):\n  - ${problems.join("\n  - ")}` +
        (warnings.length > 0 ? `\nwarning${warnings.length === 1 ? "" : "s"}:\n  - ${warnings.join("\n  - ")}` : ""),
    );
    this.name = "ConfigError";
  }
}

/** An event or manual request the product does not accept. Nothing was written. */
export class BadRequestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "BadRequestError";
  }
}

/** The run finished, but something failed; the Report says what. */
export class RunFailedError extends Error {
  constructor(message: string, readonly report: unknown) {
    super(message);
    this.name = "RunFailedError";
  }
}

/** Renders any thrown value as a short message (never a stack with request bodies). */
export function describeError(error: unknown): string {
  if (error instanceof Error) {
    const name = error.name && error.name !== "Error" ? `${error.name}: ` : "";
    return scrubSecrets(`${name}${error.message}`);
  }
  return scrubSecrets(String(error));
}
