/**
 * Directory values (names, titles, addresses: in multi-tenant mode a customer's administrator
 * controls them) must not change what an operator's terminal or spreadsheet does. Characters a
 * terminal acts on or that reorder what it shows are written as visible escapes:
 * C0 controls (ESC starts the sequences that retitle a window, clear the screen or fake colours),
 * DEL, C1 controls (U+009B is a one-character CSI on some terminals), the bidirectional formatting
 * characters (U+202E makes "gpj.exe" read "exe.jpg") and the line and paragraph separators.
 * Terminal text shows them as `\u001B`; JSON writes the same six characters, a valid escape that
 * loses nothing (decisions.md).
 */

/* eslint-disable no-control-regex -- matching control characters is this module's job */
/** Every character that is escaped, newline included (see `visibleText` for text that keeps its lines). */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same without the newline. */
const UNSAFE_BUT_NEWLINE = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/* eslint-enable no-control-regex */

const escape = (character: string) => `\\u${character.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}`;

/** Text for a terminal, its lines kept: every other unsafe character as a visible `\uXXXX`. */
export function visibleText(text: string): string {
  return text.replace(UNSAFE_BUT_NEWLINE, escape);
}

/** One line for a terminal (a table cell, a progress line): newlines escaped too. */
export function visibleLine(text: string): string {
  return text.replace(UNSAFE, escape);
}

/**
 * One line of JSON: `JSON.stringify` escapes C0 controls but writes C1, DEL and bidi characters
 * raw; those become `\uXXXX` too, which is the same JSON value.
 */
export function jsonLine(value: unknown): string {
  return `${visibleText(JSON.stringify(value))}\n`;
}
