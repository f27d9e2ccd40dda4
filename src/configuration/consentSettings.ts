/**
 * The settings an admin-consent URL needs (`tenants consent-url`): the app's client id, its cloud and
 * authority host. Read alone, so that an operator can print a customer's consent URL with nothing
 * else configured; validated like every setting, before anything is printed.
 */
import { CLOUDS, type CloudName } from "./clouds.js";
import { schema } from "./schema.js";
import { settingsError } from "./settingsError.js";

export interface ConsentSettings {
  clientId: string;
  cloud: CloudName;
  /** No trailing slash. */
  authorityHost: string;
}

const consentSchema = schema.pick({ GRAPH_CLIENT_ID: true, GRAPH_CLOUD: true, GRAPH_AUTHORITY_HOST: true });

export function loadConsentSettings(env: Record<string, string | undefined> = process.env): ConsentSettings {
  const parsed = consentSchema.safeParse({ GRAPH_CLIENT_ID: env.GRAPH_CLIENT_ID, GRAPH_CLOUD: env.GRAPH_CLOUD, GRAPH_AUTHORITY_HOST: env.GRAPH_AUTHORITY_HOST });
  if (!parsed.success) {
    const names = parsed.error.issues.map((issue) => String(issue.path[0] ?? "configuration"));
    throw settingsError(
      parsed.error.issues.map((issue, i) => `${names[i]} ${issue.message}`),
      names,
    );
  }
  const cloud = parsed.data.GRAPH_CLOUD;
  return {
    clientId: parsed.data.GRAPH_CLIENT_ID.toLowerCase(),
    cloud,
    authorityHost: (parsed.data.GRAPH_AUTHORITY_HOST ?? CLOUDS[cloud].authorityHost).replace(/\/+$/, ""),
  };
}
