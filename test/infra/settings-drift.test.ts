import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  CERTIFICATE_EXPIRY_WARNING_IN_DAYS,
  DEFAULT_FULL_SCHEDULE,
  DEFAULT_GRAPH_CLOUD,
  DEFAULT_GRAPH_CREDENTIAL,
  DEFAULT_SELECT,
  DEFAULT_TENANT_MODE,
  DEFAULT_TRACE_SAMPLING_RATIO,
  DURATION_SETTINGS,
  DEFAULT_GROUPS,
  EXPORT_LANE_DEFAULTS,
  GRAPH_REQUEST_DEFAULTS,
  RETENTION_DEFAULTS,
  STALE_MIRROR_AFTER_IN_MS,
  type DurationRange,
} from "../../src/configuration/defaults.js";
import { SETTING_NAMES } from "../../src/configuration/settings.js";
import { SAMPLING_RATIO_SETTING } from "../../src/telemetry/telemetrySetup.js";
import { call, literal, modules, objectEntries, parameters, parseBicepFile, property, resources, variables, type BicepDocument, type Node } from "../support/bicepSyntax.js";
import { optionalSettingNames } from "../support/optionalSettings.js";

const FUNCTION_APP = join(import.meta.dirname, "..", "..", "infra", "modules", "function-app.bicep");
const MAIN = join(import.meta.dirname, "..", "..", "infra", "main.bicep");

/** Settings the telemetry reads (not in SETTING_NAMES: telemetry never stops the sync). */
const TELEMETRY_SETTINGS = [SAMPLING_RATIO_SETTING];

/**
 * Settings the code reads that a deployment never sets: they are not for Azure. Every entry needs a
 * reason. A new setting in SETTING_NAMES must either be set by infra/modules/function-app.bicep
 * (an optional one through main.bicep's OptionalSettings: test/infra/optional-settings.test.ts) or be
 * added here.
 */
const LEFT_TO_DEFAULTS_IN_AZURE: Record<string, string> = {
  // Connection strings (with keys) are for local development and Azurite; Azure uses the
  // identity-based SNAPSHOT_STORAGE__tableServiceUri, and the two are exclusive.
  SNAPSHOT_STORAGE: "identity-based SNAPSHOT_STORAGE__tableServiceUri instead",
  // GRAPH_CREDENTIAL=clientSecret is not deployed by Bicep (the Graph extension cannot create
  // secrets, and a managed identity or certificate is preferred: docs/credentials.md).
  KEY_VAULT_SECRET_NAME: "clientSecret mode is set up by hand (docs/credentials.md)",
  GRAPH_CLIENT_SECRET: "local development only; never an app setting in Azure",
  // The tenant queue's connection string is for Azurite; Azure uses the identity-based USER_SYNC_QUEUE__queueServiceUri (multiTenant).
  USER_SYNC_QUEUE: "identity-based USER_SYNC_QUEUE__queueServiceUri instead (multi-tenant mode)",
  // The analytics lane's connection string is for Azurite; Azure uses the identity-based USER_SYNC_EXPORT_STORAGE__blobServiceUri (analyticsLane).
  USER_SYNC_EXPORT_STORAGE: "identity-based USER_SYNC_EXPORT_STORAGE__blobServiceUri instead (the analytics lane)",
};

/** Settings Bicep sets for the Functions host and the platform; the product code does not read them. */
const HOST_AND_PLATFORM_SETTINGS = [
  "AzureWebJobsStorage__accountName",
  "AzureWebJobsStorage__credential",
  "AzureWebJobsStorage__clientId",
  "APPLICATIONINSIGHTS_CONNECTION_STRING",
  "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
  "AZURE_CLIENT_ID",
  // The queue trigger's identity-based connection (multi-tenant mode).
  "USER_SYNC_QUEUE__credential",
  "USER_SYNC_QUEUE__clientId",
];

let doc: BicepDocument;
let settings: Map<string, Node>;
/** The optional settings a deployment sets when given a value (main.bicep, OptionalSettings). */
let optional: string[];

/**
 * The keys of every object literal that flows into the `appsettings` config resource, and those of
 * the optional settings (the `optionalSettings` parameter, whose keys are OptionalSettings').
 */
function appSettingsOf(d: BicepDocument, optionalNames: string[]): Map<string, Node> {
  const config = resources(d).filter((r) => r.type === "Microsoft.Web/sites/config" && literal(property(r.body, "name")) === "appsettings");
  expect(config, "one appsettings config resource").toHaveLength(1);
  const merged = call(property(config[0]!.body, "properties"));
  expect(merged?.name, "appsettings properties are a union() of named variables").toBe("union");
  const vars = variables(d);
  const found = new Map<string, Node>();
  const collect = (node: Node | undefined) => {
    if (!node) return;
    if (node.type === "identifier") return collect(vars.get(node.text));
    if (node.type === "ternary_expression") {
      collect(node.childForFieldName("consequence") ?? undefined);
      collect(node.childForFieldName("alternative") ?? undefined);
      return;
    }
    if (node.type === "call_expression" && /^toObject\(filter\(items\(optionalSettings\),/.test(node.text)) {
      for (const name of optionalNames) {
        expect(found.has(name), `${name} is set once`).toBe(false);
        found.set(name, node);
      }
      return;
    }
    if (node.type === "object") {
      for (const entry of objectEntries(node)) {
        expect(found.has(entry.key), `${entry.key} is set once`).toBe(false);
        found.set(entry.key, entry.value);
      }
      return;
    }
    throw new Error(`appsettings are built from ${node.type} (${node.text.slice(0, 40)}); keep them as object variables so this test can read them`);
  };
  for (const arg of merged!.args) collect(arg);
  return found;
}

beforeAll(async () => {
  doc = await parseBicepFile(FUNCTION_APP);
  optional = optionalSettingNames(await parseBicepFile(MAIN));
  settings = appSettingsOf(doc, optional);
});

describe("app settings in Bicep match the settings the code reads", () => {
  it("sets every setting the code reads, unless it is deliberately left to its default", () => {
    const missing = SETTING_NAMES.filter((name) => !settings.has(name) && !(name in LEFT_TO_DEFAULTS_IN_AZURE));
    expect(missing, "settings the code reads that infra/modules/function-app.bicep neither sets nor lists in LEFT_TO_DEFAULTS_IN_AZURE").toEqual([]);
  });

  it("sets nothing the code does not read, apart from the host and platform settings", () => {
    const known = new Set<string>([...SETTING_NAMES, ...HOST_AND_PLATFORM_SETTINGS, ...TELEMETRY_SETTINGS]);
    const unknown = [...settings.keys()].filter((name) => !known.has(name));
    expect(unknown, "app settings in Bicep that the code does not read (a typo, or a removed setting)").toEqual([]);
  });

  it("keeps the allow-list honest: every entry is a setting the code reads, and Bicep leaves it unset", () => {
    for (const name of Object.keys(LEFT_TO_DEFAULTS_IN_AZURE)) {
      expect(SETTING_NAMES as readonly string[], `${name} is no longer read by the code: remove it from the allow-list`).toContain(name);
      expect(settings.has(name), `${name} is both set and listed as left to its default`).toBe(false);
    }
    for (const name of HOST_AND_PLATFORM_SETTINGS) expect(settings.has(name), `${name} is set`).toBe(true);
  });

  it("connects to storage with the identity, never with a key", () => {
    expect(literal(settings.get("AzureWebJobsStorage__credential"))).toBe("managedidentity");
    expect(settings.get("AzureWebJobsStorage__clientId")?.text).toBe("identityClientId");
    expect(settings.get("AZURE_CLIENT_ID")?.text).toBe("identityClientId");
    expect(settings.get("SNAPSHOT_STORAGE__tableServiceUri")?.text).toBe("snapshotTableServiceUri");
    for (const [name, value] of settings) {
      expect(value.text, name).not.toMatch(/AccountKey|listKeys|SharedAccessSignature/);
    }
  });

  it("wires each product setting to its parameter", () => {
    const wiring = Object.fromEntries([...settings].filter(([name]) => (SETTING_NAMES as readonly string[]).includes(name) && !optional.includes(name)).map(([name, value]) => [name, value.text]));
    expect(wiring).toEqual({
      GRAPH_TENANT_ID: "graphTenantId",
      GRAPH_CLIENT_ID: "graphClientId",
      GRAPH_CLOUD: "graphCloud",
      GRAPH_CREDENTIAL: "graphCredential",
      KEY_VAULT_URL: "keyVaultUri",
      KEY_VAULT_CERTIFICATE_NAME: "keyVaultCertificateName",
      SNAPSHOT_STORAGE__tableServiceUri: "snapshotTableServiceUri",
      USER_SYNC_SCHEDULE: "userSyncSchedule",
      USER_SYNC_SELECT: "userSyncSelect",
      USER_SYNC_MAX_RUN_MINUTES: "string(userSyncMaxRunMinutes)",
      USER_SYNC_TENANT_MODE: "'multi'",
      USER_SYNC_QUEUE__queueServiceUri: "tenantQueueServiceUri",
      USER_SYNC_EXPORT_STORAGE__blobServiceUri: "analyticsBlobServiceUri",
      USER_SYNC_EXPORT_CONTAINER: "analyticsContainerName",
    });
  });

  it("sets the analytics lane (identity-based) only when main.bicep's analyticsLane gives it a container", () => {
    const lane = variables(doc).get("laneSettings");
    expect(lane?.type).toBe("ternary_expression");
    expect(lane?.childForFieldName("condition")?.text).toBe("empty(analyticsContainerName)");
    expect(objectEntries(lane?.childForFieldName("consequence")).map((e) => e.key)).toEqual([]);
    expect(objectEntries(lane?.childForFieldName("alternative")).map((e) => e.key)).toEqual(["USER_SYNC_EXPORT_STORAGE__blobServiceUri", "USER_SYNC_EXPORT_CONTAINER"]);
  });

  it("sets multi-tenant mode and the tenant queue (through the identity) only when multiTenant is set", () => {
    const tenant = variables(doc).get("tenantSettings");
    expect(tenant?.type).toBe("ternary_expression");
    expect(tenant?.childForFieldName("condition")?.text).toBe("multiTenant");
    expect(objectEntries(tenant?.childForFieldName("consequence")).map((e) => e.key)).toEqual(["USER_SYNC_TENANT_MODE", "USER_SYNC_QUEUE__queueServiceUri", "USER_SYNC_QUEUE__credential", "USER_SYNC_QUEUE__clientId"]);
    expect(objectEntries(tenant?.childForFieldName("alternative")).map((e) => e.key)).toEqual([]);
    expect(literal(settings.get("USER_SYNC_QUEUE__credential"))).toBe("managedidentity");
    expect(settings.get("USER_SYNC_QUEUE__clientId")?.text).toBe("identityClientId");
  });

  it("sets the Key Vault settings only in the certificate mode: the credential modes are exclusive", () => {
    const credential = variables(doc).get("credentialSettings");
    expect(credential?.type).toBe("ternary_expression");
    expect(credential?.childForFieldName("condition")?.text).toBe("graphCredential == 'managedIdentityFederation'");
    expect(objectEntries(credential?.childForFieldName("consequence")).map((e) => e.key)).toEqual([]);
    expect(objectEntries(credential?.childForFieldName("alternative")).map((e) => e.key)).toEqual(["KEY_VAULT_URL", "KEY_VAULT_CERTIFICATE_NAME"]);
  });

  it("sets USER_SYNC_SELECT only when a value is given", () => {
    const optional = variables(doc).get("optionalProductSettings");
    expect(optional?.type).toBe("ternary_expression");
    expect(optional?.childForFieldName("condition")?.text).toBe("empty(userSyncSelect)");
    expect(objectEntries(optional?.childForFieldName("consequence")).map((e) => e.key)).toEqual([]);
  });
});

describe("run duration: host.json functionTimeout and USER_SYNC_MAX_RUN_MINUTES", () => {
  const ROOT = join(import.meta.dirname, "..", "..");

  function timeoutMinutes(): number {
    const host = JSON.parse(readFileSync(join(ROOT, "host.json"), "utf8")) as { functionTimeout?: string };
    const match = /^(\d{2}):(\d{2}):(\d{2})$/.exec(host.functionTimeout ?? "");
    expect(match, "host.json sets functionTimeout as hh:mm:ss").not.toBeNull();
    return Number(match![1]) * 60 + Number(match![2]) + Number(match![3]) / 60;
  }

  it("sets a functionTimeout the Flex Consumption and Consumption plans accept: 30 minutes", () => {
    // Flex Consumption: 30 minutes by default, no maximum (but an instance can be recycled); a
    // deliberate value keeps the limit visible. docs/deploy.md lists the plans' limits.
    expect(timeoutMinutes()).toBe(30);
  });

  it("stops a run at a checkpoint before the host's timeout, with at least 3 minutes to spare", async () => {
    const main = await parseBicepFile(join(ROOT, "infra", "main.bicep"));
    const param = parameters(main).find((p) => p.name === "userSyncMaxRunMinutes");
    const defaultMinutes = literal(param?.defaultValue);
    const maxValue = /@maxValue\((\d+)\)\s*param userSyncMaxRunMinutes /.exec(main.source)?.[1];
    expect(defaultMinutes).toBe(25);
    expect(Number(maxValue)).toBeLessThanOrEqual(timeoutMinutes() - 3);
    expect(Number(defaultMinutes)).toBeLessThanOrEqual(Number(maxValue));
    const fn = modules(main).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.userSyncMaxRunMinutes")?.text).toBe("userSyncMaxRunMinutes");
  });
});

describe("defaults: README, docs and Bicep state those of src/configuration/defaults.ts", () => {
  const ROOT = join(import.meta.dirname, "..", "..");
  const README = readFileSync(join(ROOT, "README.md"), "utf8");
  const DOCS = readdirSync(join(ROOT, "docs"))
    .filter((name) => name.endsWith(".md"))
    .map((name) => ({ file: `docs/${name}`, text: readFileSync(join(ROOT, "docs", name), "utf8") }));

  /** Every setting with a default, as written in the documentation, from defaults.ts: a value, or the setting it falls back to. */
  const DEFAULTS: Record<string, string> = {
    ...Object.fromEntries(Object.entries(DURATION_SETTINGS).map(([name, range]: [string, DurationRange]) => [name, range.fallsBackTo ?? String(range.fallback)])),
    USER_SYNC_EXPORT_CONTAINER: EXPORT_LANE_DEFAULTS.container,
    USER_SYNC_GROUPS: String(DEFAULT_GROUPS),
    USER_SYNC_TENANT_MODE: DEFAULT_TENANT_MODE,
    GRAPH_CLOUD: DEFAULT_GRAPH_CLOUD,
    GRAPH_CREDENTIAL: DEFAULT_GRAPH_CREDENTIAL,
    GRAPH_MAX_RETRIES: String(GRAPH_REQUEST_DEFAULTS.maxRetries),
    USER_SYNC_FULL_SCHEDULE: DEFAULT_FULL_SCHEDULE,
    SNAPSHOT_RETENTION_COUNT: String(RETENTION_DEFAULTS.count),
    USER_SYNC_TRACE_SAMPLING_RATIO: String(DEFAULT_TRACE_SAMPLING_RATIO),
  };
  /** Default cells of the settings table that are no value of defaults.ts. */
  const NOT_A_VALUE = new Set(["", "per cloud", "see below", "unset"]);

  it("the README's settings table gives each setting the default defaults.ts has", () => {
    const rows = README.split("\n").filter((line) => /^\| `[A-Z][A-Z0-9_]+` \|/.test(line));
    expect(rows.length).toBeGreaterThan(20);
    const stated = new Map<string, string>();
    for (const row of rows) {
      const [, name, , cell] = row.split("|").map((c) => c.trim());
      const setting = name!.replaceAll("`", "");
      const value = /^`([^`]*)`/.exec(cell!)?.[1];
      if (value === undefined) {
        expect(NOT_A_VALUE.has(cell!), `${setting}: the default "${cell}" is neither a value nor a known phrase`).toBe(true);
        continue;
      }
      stated.set(setting, value);
    }
    const documented = Object.keys(DEFAULTS).filter((name) => stated.has(name) || SETTING_NAMES.includes(name as never));
    expect(Object.fromEntries([...stated].sort())).toEqual(Object.fromEntries(documented.map((name) => [name, DEFAULTS[name]]).sort()));
  });

  it("the README's default USER_SYNC_SELECT is DEFAULT_SELECT", () => {
    const list = /^Default `USER_SYNC_SELECT`: `([^`]+)`/m.exec(README)?.[1];
    expect(list?.split(", ")).toEqual([...DEFAULT_SELECT]);
  });

  it("every \"`SETTING` … default X\" in the README and docs/ states defaults.ts's", () => {
    const statements: string[] = [];
    const wrong: string[] = [];
    for (const { file, text } of [{ file: "README.md", text: README }, ...DOCS]) {
      // `NAME` (default 20 s, …) / `NAME`, default 60 / `NAME` (6-field NCRONTAB, UTC, default `0 0 2 * * *`)
      for (const match of text.matchAll(/`([A-Z][A-Z0-9_]{5,})`[^`.|;]{0,40}?\bdefault:? (`[^`]+`|[0-9.]+|[A-Za-z]+)/g)) {
        const [, name, raw] = match;
        if (!(name! in DEFAULTS)) continue;
        const value = raw!.replaceAll("`", "");
        statements.push(`${file}: ${name}`);
        if (value !== DEFAULTS[name!]) wrong.push(`${file}: ${name} default ${value}, defaults.ts ${DEFAULTS[name!]}`);
      }
    }
    expect(statements.length, "the documentation states defaults in this form (the pattern still finds them)").toBeGreaterThan(10);
    expect(wrong).toEqual([]);
  });

  it("Bicep's parameters that restate a default hold defaults.ts's", async () => {
    const main = await parseBicepFile(MAIN);
    const monitoring = await parseBicepFile(join(ROOT, "infra", "modules", "monitoring.bicep"));
    const defaultOf = (doc: BicepDocument, name: string) => literal(parameters(doc).find((p) => p.name === name)?.defaultValue);
    expect(defaultOf(main, "graphCloud")).toBe(DEFAULT_GRAPH_CLOUD);
    expect(defaultOf(main, "graphCredential")).toBe(DEFAULT_GRAPH_CREDENTIAL);
    expect(defaultOf(main, "analyticsContainerName")).toBe(EXPORT_LANE_DEFAULTS.container);
    expect(defaultOf(main, "staleMirrorAfterHours")).toBe(STALE_MIRROR_AFTER_IN_MS / 3_600_000);
    expect(defaultOf(monitoring, "staleMirrorAfterHours")).toBe(STALE_MIRROR_AFTER_IN_MS / 3_600_000);
    expect(defaultOf(monitoring, "certificateExpiryWarningDays")).toBe(CERTIFICATE_EXPIRY_WARNING_IN_DAYS);
  });
});
