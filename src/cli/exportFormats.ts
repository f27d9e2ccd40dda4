import { stringify } from "csv-stringify/sync";
import type { GraphUser } from "../graph/types.js";

export type ExportFormat = "jsonl" | "csv";

/** Turns users into lines of text, one user per line (plus a header line for CSV). */
export interface UserLineWriter {
  /** Lines for one user (CSV also emits its header before the first user). */
  linesFor(user: GraphUser): string;
}

export interface UserLineWriterOptions {
  /**
   * CSV columns, in order, whatever keys the users have: a snapshot's are its run's `$select`
   * (USER_SYNC_SELECT when it was taken), the mirror's its own `$select` (plus `@removed` with
   * removed users). A property a user lacks is an empty cell. JSON Lines writes each user whole.
   */
  columns: readonly string[];
}

export function createUserLineWriter(format: ExportFormat, options: UserLineWriterOptions): UserLineWriter {
  if (format === "jsonl") return { linesFor: (user) => `${JSON.stringify(user)}\n` };
  const columns = [...options.columns];
  if (columns.length === 0) throw new Error("a CSV export needs its columns");
  let header = stringify([columns]);
  return {
    linesFor(user) {
      const row = columns.map((column) => csvCell(valueOf(user, column)));
      const lines = header + stringify([row]);
      header = "";
      return lines;
    },
  };
}

/**
 * The user's value for a column. Graph answers with its own spelling of a property
 * (`displayName` for a `$select` of `displayname`), so a column without an exact key falls back to
 * the key that differs only in case.
 */
function valueOf(user: GraphUser, column: string): unknown {
  if (Object.hasOwn(user, column)) return user[column];
  const lower = column.toLowerCase();
  for (const key of Object.keys(user)) if (key.toLowerCase() === lower) return user[key];
  return undefined;
}

/** Text as text; null and missing as an empty cell; arrays and objects as their JSON. */
function csvCell(value: unknown): string {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
