/**
 * How the kubelet matches a docker config key to an image (docs/facts.md §4): scheme stripped,
 * `/v1/`/`/v2/` ignored, same number of dot labels compared with a glob per label, the port must
 * match exactly, and a key's path must be a prefix of the image's path. Pure.
 */

export interface ParsedRef {
  host: string;
  port: string;
  path: string;
}

/** Userinfo in a key (`https://user:pass@host`, `user:pass@host`): a credential, never printed. */
const KEY_USERINFO = /^((?:[a-z][a-z0-9+.-]*:\/\/)?)[^/@]+@/i;

/** A docker config key as written, with credentials in its URL userinfo redacted. */
export function displayKey(key: string): string {
  return key.trim().replace(KEY_USERINFO, "$1[redacted]@");
}

/** `[scheme://][userinfo@]host[:port][/path]` → parts; lower-case host; `/v1/`, `/v2/` mean no path. */
export function parseKey(key: string): ParsedRef {
  let rest = key
    .trim()
    .replace(/^https?:\/\//i, "")
    .replace(/^[^/@]+@/, "");
  rest = rest.replace(/\/v[12]\/?$/, "");
  const slash = rest.indexOf("/");
  const hostPort = slash < 0 ? rest : rest.slice(0, slash);
  const path = slash < 0 ? "" : rest.slice(slash + 1).replace(/\/+$/, "");
  const colon = hostPort.lastIndexOf(":");
  const host = (colon < 0 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
  const port = colon < 0 ? "" : hostPort.slice(colon + 1);
  return { host: host === "index.docker.io" || host === "registry-1.docker.io" ? "docker.io" : host, port, path };
}

/** An image reference → registry host, port and repository path (tag/digest removed). */
export function parseImage(image: string): ParsedRef {
  let ref = image.trim();
  const at = ref.indexOf("@");
  if (at >= 0) ref = ref.slice(0, at);
  const firstSlash = ref.indexOf("/");
  let hostPort = "docker.io";
  let path = ref;
  if (firstSlash >= 0) {
    const candidate = ref.slice(0, firstSlash);
    if (candidate.includes(".") || candidate.includes(":") || candidate === "localhost") {
      hostPort = candidate;
      path = ref.slice(firstSlash + 1);
    }
  }
  const lastColon = path.lastIndexOf(":");
  if (lastColon >= 0 && !path.slice(lastColon).includes("/")) path = path.slice(0, lastColon);
  if (hostPort === "docker.io" && !path.includes("/")) path = `library/${path}`;
  const colon = hostPort.lastIndexOf(":");
  const host = (colon < 0 ? hostPort : hostPort.slice(0, colon)).toLowerCase();
  return { host, port: colon < 0 ? "" : hostPort.slice(colon + 1), path };
}

/** Go's filepath.Match for one label (`*`, `?`, `[...]`), no separators involved. */
function globLabel(pattern: string, label: string): boolean {
  if (!/[*?[]/.test(pattern)) return pattern === label;
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") re += "[^.]*";
    else if (c === "?") re += "[^.]";
    else if (c === "[") {
      const end = pattern.indexOf("]", i + 1);
      if (end < 0) return false;
      let set = pattern.slice(i + 1, end);
      if (set.startsWith("^")) set = `^${set.slice(1)}`;
      re += `[${set.replace(/\\/g, "\\\\")}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  try {
    return new RegExp(`^${re}$`).test(label);
  } catch {
    return false;
  }
}

/** Does a docker config key match an image, by the kubelet's keyring rules? */
export function keyMatchesImage(key: string, image: string): boolean {
  const k = parseKey(key);
  const i = parseImage(image);
  if (k.port !== i.port) return false;
  const kl = k.host.split(".");
  const il = i.host.split(".");
  if (kl.length !== il.length) return false;
  if (!kl.every((label, n) => globLabel(label, il[n]!))) return false;
  if (k.path === "") return true;
  return i.path === k.path || i.path.startsWith(`${k.path}/`) || i.path.startsWith(k.path);
}
