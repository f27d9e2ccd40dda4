/** One error for every problem found in the settings, naming each setting and its fix. */
import { UserSyncError } from "../shared/errors.js";

export function settingsError(lines: string[], names: string[], conflict = false): UserSyncError {
  const code = conflict ? "conflicting_settings" : lines.length === 1 && lines[0]!.includes("is missing") ? "missing_setting" : "invalid_setting";
  const message =
    lines.length === 1
      ? `Invalid configuration: ${lines[0]}`
      : `Invalid configuration (${lines.length} problems):\n${lines.map((l) => `  - ${l}`).join("\n")}`;
  return new UserSyncError(code, message, { details: { settings: names.join(",") } });
}
