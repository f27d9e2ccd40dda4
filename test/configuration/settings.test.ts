import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { CLOUDS } from "../../src/configuration/clouds.js";
import { DEFAULT_SELECT, DURATION_SETTINGS, loadSettings, loadStorageSettings, MAX_TIMER_DELAY_IN_MS, SETTING_NAMES } from "../../src/configuration/settings.js";
import { APP_SETTINGS } from "../support/appSettings.js";
import { settingsFailure as failure } from "../support/settingsFailure.js";

const valid = {
  GRAPH_TENANT_ID: "11111111-2222-3333-4444-555555555555",
  ...APP_SETTINGS,
};

describe("loadSettings", () => {
  it("reads a minimal valid configuration with public-cloud defaults", () => {
    const settings = loadSettings(valid);
    expect(settings).toMatchObject({
      tenantId: valid.GRAPH_TENANT_ID,
      clientId: valid.GRAPH_CLIENT_ID.toLowerCase(),
      cloud: "AzurePublic",
      authorityHost: "https://login.microsoftonline.com",
      graphEndpoint: "https://graph.microsoft.com",
      credential: { mode: "keyVaultCertificate", keyVaultUrl: "https://contoso-sync.vault.azure.net", certificateName: "graph-client" },
      storage: { kind: "connectionString", tableEndpoint: "http://127.0.0.1:10002/devstoreaccount1", allowInsecureConnection: true },
    });
    expect(settings.select).toEqual(DEFAULT_SELECT);
    expect(settings.schedule).toBeUndefined();
  });

  it.each([
    ["AzureChina", "https://login.partner.microsoftonline.cn", "https://microsoftgraph.chinacloudapi.cn"],
    ["AzureUSGovernment", "https://login.microsoftonline.us", "https://graph.microsoft.us"],
    ["AzureUSGovernmentDoD", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"],
  ])("GRAPH_CLOUD=%s picks its authority host and Graph endpoint", (cloud, authorityHost, graphEndpoint) => {
    const settings = loadSettings({ ...valid, GRAPH_CLOUD: cloud });
    expect(settings.authorityHost).toBe(authorityHost);
    expect(settings.graphEndpoint).toBe(graphEndpoint);
  });

  it("lets GRAPH_AUTHORITY_HOST and GRAPH_ENDPOINT override the cloud's hosts", () => {
    const settings = loadSettings({
      ...valid,
      GRAPH_CLOUD: "AzureChina",
      GRAPH_AUTHORITY_HOST: "https://login.example.test/",
      GRAPH_ENDPOINT: "https://graph.example.test",
    });
    expect(settings.authorityHost).toBe("https://login.example.test");
    expect(settings.graphEndpoint).toBe("https://graph.example.test");
  });

  it.each(["common", "organizations", "consumers", "Common"])("rejects the multi-tenant authority %s with the reason", (tenant) => {
    const error = failure({ ...valid, GRAPH_TENANT_ID: tenant });
    expect(error.code).toBe("invalid_setting");
    expect(error.message).toContain("GRAPH_TENANT_ID");
    expect(error.message).toMatch(/client credentials.*one tenant/);
  });

  it("accepts a verified domain as the tenant", () => {
    expect(loadSettings({ ...valid, GRAPH_TENANT_ID: "contoso.onmicrosoft.com" }).tenantId).toBe("contoso.onmicrosoft.com");
  });

  it("does not read the client id from AZURE_CLIENT_ID, which belongs to the managed identity", () => {
    const error = failure({ ...valid, GRAPH_CLIENT_ID: undefined, AZURE_CLIENT_ID: valid.GRAPH_CLIENT_ID });
    expect(error.code).toBe("missing_setting");
    expect(error.message).toContain("GRAPH_CLIENT_ID is missing");
  });

  it("lists every problem at once, each with the setting's name and its fix", () => {
    const error = failure({ GRAPH_TENANT_ID: "not a tenant", KEY_VAULT_URL: "http://vault.example.com" });
    const message = error.message;
    expect(message).toContain("GRAPH_TENANT_ID \"not a tenant\" is neither a GUID nor a domain name");
    expect(message).toContain("GRAPH_CLIENT_ID is missing");
    expect(message).toContain("KEY_VAULT_URL must use https");
    expect(message).toContain("is not a Key Vault host");
    expect(message).toContain("KEY_VAULT_CERTIFICATE_NAME is missing");
    expect(message).toContain("SNAPSHOT_STORAGE is missing");
    expect(message.match(/Set it to|Set SNAPSHOT_STORAGE/g)?.length).toBeGreaterThanOrEqual(4);
  });

  it.each([
    [{ GRAPH_CLIENT_ID: "my-app" }, "GRAPH_CLIENT_ID is not a GUID"],
    [{ GRAPH_CLOUD: "AzureGermany" }, "GRAPH_CLOUD must be one of AzurePublic, AzureChina, AzureUSGovernment, AzureUSGovernmentDoD"],
    [{ GRAPH_AUTHORITY_HOST: "https://login.microsoftonline.com/contoso" }, "GRAPH_AUTHORITY_HOST must be a host only"],
    [{ GRAPH_ENDPOINT: "https://graph.microsoft.com/v1.0" }, "GRAPH_ENDPOINT must be a host only"],
    [{ GRAPH_ENDPOINT: "http://graph.microsoft.com" }, "GRAPH_ENDPOINT must use https"],
    [{ KEY_VAULT_URL: "https://vault.example.com" }, "KEY_VAULT_URL host \"vault.example.com\" is not a Key Vault host"],
    [{ KEY_VAULT_URL: "https://v.vault.azure.net/certificates/x" }, "KEY_VAULT_URL must be the vault URI without a path"],
    [{ KEY_VAULT_CERTIFICATE_NAME: "my_cert!" }, "KEY_VAULT_CERTIFICATE_NAME is not a valid Key Vault certificate name"],
    [{ USER_SYNC_SCHEDULE: "*/5 * * * *" }, "USER_SYNC_SCHEDULE \"*/5 * * * *\" is not a 6-field NCRONTAB expression"],
    [{ USER_SYNC_SELECT: "id,display Name,mail" }, "\"display Name\" is not a Graph property name"],
    [{ SNAPSHOT_STORAGE__tableServiceUri: "https://acct.table.core.windows.net" }, "SNAPSHOT_STORAGE and SNAPSHOT_STORAGE__tableServiceUri are both set"],
    [{ SNAPSHOT_STORAGE: "AccountName=acct" }, "SNAPSHOT_STORAGE has neither AccountKey nor SharedAccessSignature"],
    [{ SNAPSHOT_STORAGE: "just some text" }, "SNAPSHOT_STORAGE is not a connection string"],
  ])("rejects %o naming the setting", (override, expected) => {
    const error = failure({ ...valid, ...override });
    expect(error.code).toBe("invalid_setting");
    expect(error.message).toContain(expected);
  });

  it("never echoes a connection string in its errors", () => {
    const secret = "AccountName=acct;AccountKey=c2VjcmV0LWtleS1tYXRlcmlhbA==;TableEndpoint=not a url";
    const error = failure({ ...valid, SNAPSHOT_STORAGE: secret });
    expect(error.message).toContain("TableEndpoint that is not a URL");
    expect(error.message).not.toContain("c2VjcmV0LWtleS1tYXRlcmlhbA");
  });

  it("accepts an NCRONTAB schedule and an app-setting reference", () => {
    expect(loadSettings({ ...valid, USER_SYNC_SCHEDULE: "0 */15 * * * *" }).schedule).toBe("0 */15 * * * *");
    expect(loadSettings({ ...valid, USER_SYNC_SCHEDULE: "%OTHER_SETTING%" }).schedule).toBe("%OTHER_SETTING%");
  });

  it("always includes id first in the select list, once", () => {
    expect(loadSettings({ ...valid, USER_SYNC_SELECT: " displayName , mail,ID,displayName " }).select).toEqual(["id", "displayName", "mail"]);
  });

  it("treats empty values like unset ones (local.settings.json keeps empty placeholders)", () => {
    const settings = loadSettings({ ...valid, GRAPH_AUTHORITY_HOST: "", GRAPH_ENDPOINT: "", USER_SYNC_SELECT: "", GRAPH_CLOUD: "" });
    expect(settings.authorityHost).toBe(CLOUDS.AzurePublic.authorityHost);
    expect(settings.select).toEqual(DEFAULT_SELECT);
  });

  it("reads identity-based storage from SNAPSHOT_STORAGE__tableServiceUri", () => {
    const settings = loadSettings({ ...valid, SNAPSHOT_STORAGE: undefined, SNAPSHOT_STORAGE__tableServiceUri: "https://acct.table.core.windows.net/" });
    expect(settings.storage).toEqual({ kind: "identity", tableServiceUri: "https://acct.table.core.windows.net", allowInsecureConnection: false, requestTimeoutInMs: 30_000 });
  });

  it("bounds every table request (STORAGE_REQUEST_TIMEOUT_SECONDS, 1 to 600) and keeps superseded snapshots for readers (SNAPSHOT_RETENTION_GRACE_MINUTES)", () => {
    const settings = loadSettings({ ...valid, STORAGE_REQUEST_TIMEOUT_SECONDS: "5", SNAPSHOT_RETENTION_GRACE_MINUTES: "0" });
    expect(settings.storage.requestTimeoutInMs).toBe(5_000);
    expect(settings.retention.keepSupersededWithinInMs).toBe(0);
    expect(loadSettings(valid).retention.keepSupersededWithinInMs).toBe(60 * 60_000);
    for (const bad of ["0", "601", "2.5", "soon"]) {
      const error = failure({ ...valid, STORAGE_REQUEST_TIMEOUT_SECONDS: bad });
      expect(error.message).toMatch(/STORAGE_REQUEST_TIMEOUT_SECONDS must .*from 1 to 600 \(default 30\)/);
    }
    expect(failure({ ...valid, SNAPSHOT_RETENTION_GRACE_MINUTES: "-1" }).message).toContain("SNAPSHOT_RETENTION_GRACE_MINUTES");
  });

  it("refuses plain http for identity-based storage, even on loopback, since tokens never travel over http", () => {
    for (const uri of ["http://acct.table.core.windows.net", "http://127.0.0.1:10002/devstoreaccount1"]) {
      const error = failure({ ...valid, SNAPSHOT_STORAGE: undefined, SNAPSHOT_STORAGE__tableServiceUri: uri });
      expect(error.message).toContain("SNAPSHOT_STORAGE__tableServiceUri must use https");
      expect(error.message).toContain("UseDevelopmentStorage=true");
    }
  });

  it("derives the table endpoint of account-key connection strings", () => {
    const settings = loadSettings({
      ...valid,
      SNAPSHOT_STORAGE: "DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;EndpointSuffix=core.chinacloudapi.cn",
    });
    expect(settings.storage).toMatchObject({ kind: "connectionString", tableEndpoint: "https://acct.table.core.chinacloudapi.cn", allowInsecureConnection: false });
  });

  it("reads GRAPH_AZURE_REGION for MSAL's regional token service, off by default", () => {
    expect(loadSettings(valid).azureRegion).toBeUndefined();
    expect(loadSettings({ ...valid, GRAPH_AZURE_REGION: "westeurope" }).azureRegion).toBe("westeurope");
    expect(loadSettings({ ...valid, GRAPH_AZURE_REGION: "TryAutoDetect" }).azureRegion).toBe("TryAutoDetect");
    expect(failure({ ...valid, GRAPH_AZURE_REGION: "West Europe" }).message).toContain("GRAPH_AZURE_REGION must be an Azure region name");
  });

  it("reads USER_SYNC_GROUPS strictly as true or false, off by default, and names it otherwise", () => {
    expect(loadSettings(valid).groups).toBe(false);
    expect(loadSettings({ ...valid, USER_SYNC_GROUPS: "" }).groups).toBe(false);
    expect(loadSettings({ ...valid, USER_SYNC_GROUPS: "true" }).groups).toBe(true);
    expect(loadSettings({ ...valid, USER_SYNC_GROUPS: " false " }).groups).toBe(false);
    for (const bad of ["TRUE", "yes", "1", "on"]) {
      const error = failure({ ...valid, USER_SYNC_GROUPS: bad });
      expect(error.message).toContain(`USER_SYNC_GROUPS must be true`);
      expect(error.message).toContain(`got "${bad}"`);
      expect(error.message).toContain("GroupMember.Read.All");
    }
  });

  it("only reads the names in SETTING_NAMES", () => {
    expect(SETTING_NAMES).toContain("GRAPH_TENANT_ID");
    expect(SETTING_NAMES).not.toContain("AZURE_CLIENT_ID");
  });
});

describe("duration settings", () => {
  const durations = Object.entries(DURATION_SETTINGS);

  it("cover every setting whose name says it is a duration", () => {
    const named = SETTING_NAMES.filter((name) => /_(SECONDS|MINUTES|HOURS|DAYS)(_|$)/.test(name));
    expect(Object.keys(DURATION_SETTINGS).sort()).toEqual([...named].sort());
  });

  it.each(durations)("%s accepts its whole range and refuses what lies outside it, naming the setting and the range", (name, range) => {
    expect(() => loadSettings({ ...valid, [name]: String(range.min) })).not.toThrow();
    expect(() => loadSettings({ ...valid, [name]: String(range.max) })).not.toThrow();
    const allowed = `from ${range.min} to ${range.max} (default ${range.fallback})`;
    const over = failure({ ...valid, [name]: String(range.max + 1) });
    expect(over.code).toBe("invalid_setting");
    expect(over.message).toContain(`${name} must be at most ${range.max}, got ${range.max + 1}: a whole number of ${range.unit}`);
    expect(over.message).toContain(allowed);
    expect(failure({ ...valid, [name]: "99999999999999999999" }).message).toContain(`${name} must be at most ${range.max}`);
    expect(failure({ ...valid, [name]: "1.5" }).message).toContain(`${name} must be a whole number of ${range.unit}`);
    expect(failure({ ...valid, [name]: "-1" }).message).toContain(allowed);
    if (range.min > 0) expect(failure({ ...valid, [name]: String(range.min - 1) }).message).toContain(`${name} must be at least ${range.min}, got ${range.min - 1}`);
  });

  it.each(durations.filter(([, range]) => range.timer))("%s never asks a timer for more than Node.js can wait", (_name, range) => {
    expect(range.max * range.unitInMs).toBeLessThanOrEqual(MAX_TIMER_DELAY_IN_MS);
  });

  it("the longest timer allowed does not fire at once, where one a minute longer would", async () => {
    const longest = Math.max(...durations.filter(([, r]) => r.timer).map(([, r]) => r.max * r.unitInMs));
    const fired: string[] = [];
    // Node warns about the overflowing timer: caught here (and checked), so that `npm test` prints no warning.
    const warnings: string[] = [];
    const emitWarning = process.emitWarning;
    process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
      const name = warning instanceof Error ? warning.name : typeof rest[0] === "string" ? rest[0] : (rest[0] as { type?: string } | undefined)?.type;
      if (name === "TimeoutOverflowWarning") warnings.push(String(warning instanceof Error ? warning.message : warning));
      else (emitWarning as (...args: unknown[]) => void).call(process, warning, ...rest);
    }) as typeof process.emitWarning;
    let ok: NodeJS.Timeout;
    let overflow: NodeJS.Timeout;
    try {
      ok = setTimeout(() => fired.push("longest"), longest);
      overflow = setTimeout(() => fired.push("overflow"), MAX_TIMER_DELAY_IN_MS + 60_000);
    } finally {
      process.emitWarning = emitWarning;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
    clearTimeout(ok);
    clearTimeout(overflow);
    expect(fired).toEqual(["overflow"]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain(`${MAX_TIMER_DELAY_IN_MS + 60_000} does not fit into a 32-bit signed integer`);
  });

  it("are stated with the same range in README's settings table", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    for (const [name, range] of durations) {
      const row = readme.split("\n").find((line) => line.startsWith(`| \`${name}\``));
      expect(row, name).toBeDefined();
      expect(row, name).toContain(`${range.min}–${range.max}`);
    }
  });
});

describe("loadStorageSettings", () => {
  it("needs only the storage settings", () => {
    expect(loadStorageSettings({ SNAPSHOT_STORAGE: "UseDevelopmentStorage=true" }).kind).toBe("connectionString");
  });

  it("names SNAPSHOT_STORAGE when nothing is set", () => {
    expect(() => loadStorageSettings({})).toThrowError(/SNAPSHOT_STORAGE is missing/);
  });
});

describe("local.settings.example.json", () => {
  const values = (JSON.parse(readFileSync(new URL("../../local.settings.example.json", import.meta.url), "utf8")) as { Values: Record<string, string> }).Values;

  it("holds every setting the code reads", () => {
    expect(SETTING_NAMES.filter((name) => !(name in values))).toEqual([]);
  });

  it("is a valid configuration as it stands (placeholders included), with local storage", () => {
    const settings = loadSettings(values);
    expect(settings.storage).toMatchObject({ kind: "connectionString", allowInsecureConnection: true });
    expect(settings.schedule).toBe(values.USER_SYNC_SCHEDULE);
  });
});
