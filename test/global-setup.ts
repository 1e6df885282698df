// Builds the bundles once before the suite (the CLI tests run bin/ecr-token-rotator.mjs → dist/).
import { execFileSync } from "node:child_process";

export default function setup(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { stdio: "inherit" });
}
