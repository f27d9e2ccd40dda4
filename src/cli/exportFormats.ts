import { stringify } from "csv-stringify/sync";
import type { GraphUser } from "../graph/types.js";
import { jsonLine, visibleText } from "../shared/safeText.js";

export type ExportFormat = "jsonl" | "csv";

/** Turns users into lines of text, one user per line (plus a header line for CSV). */
export interface UserLineWriter {
  /** Lines for one user (CSV also emits its header before the first user). */
  linesFor(user: GraphUser): string;
  /** What is left to write after the last user: CSV's header when there was no user, so that a CSV always has one. */
  end(): string;
}

export interface UserLineWriterOptions {
  /**
   * CSV columns, in order, whatever keys the users have: a snapshot's are its run's `$select`
   * (USER_SYNC_SELECT when it was taken), the mirror's its own `$select` (plus `@removed` with
   * removed users). A property a user lacks is an empty cell. JSON Lines writes each user whole.
   */
  columns: readonly string[];
  /**
   * CSV: write every cell exactly as stored. By default a cell that a spreadsheet would run as a
   * formula (starting with = + - @, a tab or a carriage return; csv-stringify's `escape_formulas`)
   * gets a leading `'`, and control and bidi characters other than the newline are written as
   * visible `\uXXXX` escapes (src/shared/safeText.ts). JSON Lines is always exact.
   */
  raw?: boolean;
}

export function createUserLineWriter(format: ExportFormat, options: UserLineWriterOptions): UserLineWriter {
  if (format === "jsonl") return { linesFor: (user) => jsonLine(user), end: () => "" };
  const columns = [...options.columns];
  if (columns.length === 0) throw new Error("a CSV export needs its columns");
  const raw = options.raw === true;
  const line = (cells: readonly (string | number)[]) => stringify([cells], { escape_formulas: !raw });
  const cell = (value: unknown) => {
    const text = csvCell(value);
    return raw || typeof text !== "string" ? text : visibleText(text);
  };
  // The header is the operator's own USER_SYNC_SELECT (and "@removed"): never a formula to escape.
  const header = stringify([columns.map((column) => visibleText(column))]);
  let headerWritten = false;
  const withHeader = (text: string) => {
    if (headerWritten) return text;
    headerWritten = true;
    return header + text;
  };
  return {
    linesFor: (user) => withHeader(line(columns.map((column) => cell(valueOf(user, column))))),
    end: () => withHeader(""),
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

/** Text as text; numbers as numbers (a negative number is not a formula); null and missing as an empty cell; arrays and objects as their JSON. */
function csvCell(value: unknown): string | number {
  if (value === null || value === undefined) return "";
  if (typeof value === "string") return value;
  if (typeof value === "number") return value;
  if (typeof value === "boolean") return String(value);
  return JSON.stringify(value);
}
