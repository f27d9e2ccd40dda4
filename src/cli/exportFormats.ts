import { stringify } from "csv-stringify/sync";
import type { GraphUser } from "../graph/types.js";

export type ExportFormat = "jsonl" | "csv";

/** Turns users into lines of text, one user per line (plus a header line for CSV). */
export interface UserLineWriter {
  /** Lines for one user (CSV also emits its header before the first user). */
  linesFor(user: GraphUser): string;
}

export interface UserLineWriterOptions {
  /** CSV columns, in order. Default: the first user's keys. Give them when users differ in keys (removed users, change sets). */
  columns?: readonly string[];
}

export function createUserLineWriter(format: ExportFormat, options: UserLineWriterOptions = {}): UserLineWriter {
  if (format === "jsonl") return { linesFor: (user) => `${JSON.stringify(user)}\n` };
  let columns: readonly string[] | undefined = options.columns;
  let headerWritten = false;
  return {
    linesFor(user) {
      let header = "";
      if (!headerWritten) {
        // Graph returns every selected property on every user (null when empty), so the first
        // user's keys are the snapshot's columns.
        columns ??= Object.keys(user);
        header = stringify([columns]);
        headerWritten = true;
      }
      const row = columns!.map((column) => csvCell(user[column]));
      return header + stringify([row]);
    },
  };
}

/** Text as text; null and missing as an empty cell; arrays and objects as their JSON. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
