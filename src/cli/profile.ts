/**
 * `--profile NAME`, like the AWS CLI's: the credentials come from that profile of the shared
 * files (~/.aws/config, ~/.aws/credentials, or AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE),
 * and win over credentials in the environment. A profile the files do not have is named in the
 * error, with the nearest profiles they have. It chooses credentials only: nothing the
 * configuration selects (registries, secrets, clusters) depends on it.
 */
import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { didYouMean } from "../formats/close-match";
import { BadRequestError } from "../shared/errors";

type Env = Record<string, string | undefined>;

/** Section names of an INI text: `[profile a]` / `[a]` → `a` (`[sso-session x]` and `[services x]` are not profiles). */
export function profileNames(text: string, configFile: boolean): string[] {
  const names: string[] = [];
  for (const match of text.matchAll(/^\s*\[([^\]]+)\]\s*$/gm)) {
    const section = match[1]!.trim();
    if (!configFile || section === "default") names.push(section);
    else if (section.startsWith("profile ")) names.push(section.slice("profile ".length).trim());
  }
  return names;
}

async function readIfThere(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch {
    return "";
  }
}

/** The profiles the shared files define. */
export async function knownProfiles(env: Env): Promise<{ names: string[]; files: string[] }> {
  const config = env.AWS_CONFIG_FILE || join(homedir(), ".aws", "config");
  const credentials = env.AWS_SHARED_CREDENTIALS_FILE || join(homedir(), ".aws", "credentials");
  const names = [...profileNames(await readIfThere(config), true), ...profileNames(await readIfThere(credentials), false)];
  return { names: [...new Set(names)], files: [config, credentials] };
}

/** Checks the profile exists and makes it the SDK's (AWS_PROFILE), over credentials in `env`. */
export async function applyProfile(env: Env, profile: string): Promise<void> {
  const { names, files } = await knownProfiles(env);
  if (!names.includes(profile)) {
    const have = names.length > 0 ? ` (profiles there: ${names.join(", ")})` : "";
    throw new BadRequestError(`--profile ${profile}: no such profile in ${files.join(" or ")}${have}${didYouMean(profile, names)}`);
  }
  env.AWS_PROFILE = profile;
  // Like the AWS CLI: an explicit profile wins over keys in the environment.
  delete env.AWS_ACCESS_KEY_ID;
  delete env.AWS_SECRET_ACCESS_KEY;
  delete env.AWS_SESSION_TOKEN;
}
