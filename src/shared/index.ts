// Shared by every layer: the error classes the product raises on purpose, and redaction of
// secret values from anything that leaves the process, the invocation deadline and the total
// timeouts of SDK calls. Imports nothing from the rest of src/.
export * from "./errors";
export * from "./redact";
export * from "./deadline";
export * from "./sdk-call";
