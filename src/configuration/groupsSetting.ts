/**
 * USER_SYNC_GROUPS alone, for the commands that need only storage (export --groups and
 * --memberships, diff --groups, runs): the same check and message as loadSettings (the schema's).
 */
import { schema } from "./schema.js";
import { settingsError } from "./settingsError.js";

const NAME = "USER_SYNC_GROUPS";

/** Whether the deployment keeps groups (default false); a value that is neither true nor false is the settings' error (exit 2). */
export function loadGroupsSetting(env: Record<string, string | undefined> = process.env): boolean {
  const parsed = schema.shape[NAME].safeParse(env[NAME]);
  if (parsed.success) return parsed.data;
  throw settingsError(
    parsed.error.issues.map((issue) => `${NAME} ${issue.message}`),
    [NAME],
  );
}
