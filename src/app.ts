/**
 * Wires configuration and the real AWS clients into RunDeps. Used by the handler and the CLI.
 */
import { sdkEcrApi, sdkSecretsManagerApi } from "./aws";
import { loadConfig, type Config } from "./config";
import type { RunDeps } from "./run";

export interface App {
  config: Config;
  deps: RunDeps;
}

export function createApp(env: Record<string, string | undefined> = process.env, tokenNow?: () => Date): App {
  const config = loadConfig(env);
  return {
    config,
    deps: {
      ecr: sdkEcrApi(),
      secrets: sdkSecretsManagerApi(config.rotation.defaultRegion),
      now: () => new Date(),
      tokenNow,
    },
  };
}
