/**
 * PROBE_IMAGE: an image the doctor asks every configured registry for (a manifest HEAD), written
 * `repository:tag` or `repository@sha256:<64 hex>` without a registry host. Pure.
 */

export interface ProbeImage {
  /** e.g. `team/app` (OCI distribution path components). */
  repository: string;
  /** The tag or the digest: the `<reference>` of `/v2/<name>/manifests/<reference>`. */
  reference: string;
  /** As written in image references after the host: `team/app:1` or `team/app@sha256:…`. */
  text: string;
}

/** One path component of a repository name (the OCI distribution grammar, which ECR follows). */
const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DIGEST = /^sha256:[a-f0-9]{64}$/;
/** ECR's limit on a repository name. */
const MAX_REPOSITORY_LENGTH = 256;

/** Parses PROBE_IMAGE; throws an Error whose message says what is wrong (the value is not a credential). */
export function parseProbeImage(input: string): ProbeImage {
  const text = input.trim();
  const at = text.indexOf("@");
  let repository: string;
  let reference: string;
  if (at >= 0) {
    repository = text.slice(0, at);
    reference = text.slice(at + 1);
    if (!DIGEST.test(reference)) throw new Error(`${JSON.stringify(text)}: a digest is sha256: and 64 lower-case hex digits`);
  } else {
    const colon = text.lastIndexOf(":");
    if (colon < 0 || text.indexOf("/", colon) >= 0) {
      throw new Error(`${JSON.stringify(text)} has no tag or digest: write repository:tag or repository@sha256:<digest>`);
    }
    repository = text.slice(0, colon);
    reference = text.slice(colon + 1);
    if (!TAG.test(reference)) throw new Error(`${JSON.stringify(text)}: the tag must be 1-128 of the characters A-Z a-z 0-9 _ . - (not starting with . or -)`);
  }
  const components = repository.split("/");
  // Docker's rule: a first component with a dot or a colon, or `localhost`, is a registry host.
  if (components.length > 1 && (/[.:]/.test(components[0]!) || components[0] === "localhost")) {
    throw new Error(
      `${JSON.stringify(text)} starts with a registry host: give the repository only (e.g. team/app:1); it is probed on every configured registry`,
    );
  }
  if (repository === "" || repository.length > MAX_REPOSITORY_LENGTH || !components.every((c) => COMPONENT.test(c))) {
    throw new Error(
      `${JSON.stringify(text)}: the repository must be lower-case path components (letters, digits, and . _ - between them) separated by /, at most ${MAX_REPOSITORY_LENGTH} characters`,
    );
  }
  return { repository, reference, text: `${repository}${at >= 0 ? "@" : ":"}${reference}` };
}
