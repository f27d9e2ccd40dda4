import { loadSettings } from "../../src/configuration/settings.js";
import { isUserSyncError, type UserSyncError } from "../../src/shared/errors.js";

/** The error loadSettings throws for `env` (a test fails when it does not throw one). */
export function settingsFailure(env: Record<string, string | undefined>): UserSyncError {
  try {
    loadSettings(env);
  } catch (error) {
    if (isUserSyncError(error)) return error;
    throw error;
  }
  throw new Error("expected loadSettings to fail");
}
