import { redact } from "./redact.js";

/** The product's logging boundary: the Functions InvocationContext, the terminal, or a test. */
export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

/** Wraps a logger so that everything it writes is redacted. */
export function redactingLogger(inner: Logger): Logger {
  return {
    info: (message) => inner.info(redact(message)),
    warn: (message) => inner.warn(redact(message)),
    error: (message) => inner.error(redact(message)),
  };
}

export const silentLogger: Logger = { info() {}, warn() {}, error() {} };
