import { AsyncLocalStorage } from "node:async_hooks";
import { redact } from "./redact.js";
import { visibleText } from "./safeText.js";

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

const runLoggers = new AsyncLocalStorage<Logger>();

/**
 * Runs `work` with `logger` as the logger of everything it calls, however deep and however long
 * lived the client (the certificate cache, MSAL's client): they log through `currentRunLogger`. Each
 * run has its own async context, so runs that overlap in one process never share a logger.
 */
export function withRunLogger<T>(logger: Logger, work: () => Promise<T>): Promise<T> {
  return runLoggers.run(logger, work);
}

/** The logger of long-lived clients: the logger of the run they are working for, else `fallback`. */
export function runLoggerOr(fallback: Logger): Logger {
  return {
    info: (message) => (runLoggers.getStore() ?? fallback).info(message),
    warn: (message) => (runLoggers.getStore() ?? fallback).warn(message),
    error: (message) => (runLoggers.getStore() ?? fallback).error(message),
  };
}

/** The logger of long-lived clients: the logger of the run they are working for, else the console. */
export const currentRunLogger: Logger = {
  info: (message) => (runLoggers.getStore() ?? consoleLogger).info(message),
  warn: (message) => (runLoggers.getStore() ?? consoleLogger).warn(message),
  error: (message) => (runLoggers.getStore() ?? consoleLogger).error(message),
};

/** To the console (a terminal under `func start`): control and bidi characters as visible escapes. */
const consoleLogger: Logger = {
  info: (m) => console.info(visibleText(m)),
  warn: (m) => console.warn(visibleText(m)),
  error: (m) => console.error(visibleText(m)),
};
