// Shared by every layer: the error classes the product raises on purpose, redaction of secret
// values from anything that leaves the process, the next-step texts of failures at a cluster's
// door, the invocation deadline and the total timeouts of SDK calls. Imports nothing from the
// rest of src/.
export * from "./errors";
export * from "./redact";
export * from "./next-step";
export * from "./sdk-call";
