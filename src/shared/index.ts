// Shared by every layer: the error classes the product raises on purpose, redaction of secret
// values from anything that leaves the process, and the next-step texts of failures at a
// cluster's door. Imports nothing from the rest of src/.
export * from "./errors";
export * from "./redact";
export * from "./next-step";
