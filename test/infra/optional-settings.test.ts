/**
 * Settings survive a redeployment. Every deployment replaces all of the app's settings, so a value
 * changed in the portal reverts at the next one. Therefore every optional setting of the README's
 * settings table is a deployment parameter: azd environment values and pipeline variables, read by
 * infra/main.bicepparam from the variable of the setting's name, and set on the app only when given a
 * value (unset: the code's default). docs/deploy.md, "App settings".
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { SAMPLING_RATIO_SETTING } from "../../src/telemetry/telemetrySetup.js";
import { modules, parseBicepFile, property, variables, type BicepDocument } from "../support/bicepSyntax.js";
import { optionalSettingNames } from "../support/optionalSettings.js";
import { ROOT, run } from "../support/scriptStubs.js";

/** Optional settings a deployment sets through a parameter of their own (main.bicep). */
const OWN_PARAMETERS: Record<string, string> = {
  USER_SYNC_TENANT_MODE: "multiTenant",
  GRAPH_CLOUD: "graphCloud",
  GRAPH_CREDENTIAL: "graphCredential",
  USER_SYNC_SELECT: "userSyncSelect",
  USER_SYNC_MAX_RUN_MINUTES: "userSyncMaxRunMinutes",
  USER_SYNC_EXPORT_CONTAINER: "analyticsContainerName",
};
/** Optional settings no deployment sets, each with its reason. */
const NOT_FOR_AZURE: Record<string, string> = {
  GRAPH_CLIENT_SECRET: "local development only; never an app setting in Azure",
};

const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const bicepparam = readFileSync(join(ROOT, "infra", "main.bicepparam"), "utf8");
const pipeline = parse(readFileSync(join(ROOT, "azure-pipelines.yml"), "utf8")) as { variables: Record<string, string> };

/** README's settings table rows whose "required" column is `no`. */
function optionalInReadme(): string[] {
  const section = readme.slice(readme.indexOf("## Settings"), readme.indexOf("\n## ", readme.indexOf("## Settings") + 1));
  return [...section.matchAll(/^\| `([A-Za-z_]+)` \| ([^|]*) \|/gm)].filter((m) => m[2]!.trim() === "no").map((m) => m[1]!);
}

let main: BicepDocument;
let functionApp: BicepDocument;
let optional: string[];
beforeAll(async () => {
  main = await parseBicepFile(join(ROOT, "infra", "main.bicep"));
  functionApp = await parseBicepFile(join(ROOT, "infra", "modules", "function-app.bicep"));
  optional = optionalSettingNames(main);
});

describe("optional settings are deployment parameters", () => {
  it("every optional setting of the README (and the telemetry's sampling ratio) is a parameter, or not for Azure", () => {
    const inReadme = optionalInReadme();
    expect(inReadme.length).toBeGreaterThan(15);
    expect(readme).toContain(`\`${SAMPLING_RATIO_SETTING}\``);
    const missing = [...inReadme, SAMPLING_RATIO_SETTING].filter((name) => !optional.includes(name) && !(name in OWN_PARAMETERS) && !(name in NOT_FOR_AZURE));
    expect(missing, "optional settings a deployment would silently revert: add them to OptionalSettings in infra/main.bicep").toEqual([]);
    for (const name of optional) expect([...inReadme, SAMPLING_RATIO_SETTING], `${name} is an optional setting of the README`).toContain(name);
  });

  it("main.bicepparam reads each from the environment variable of its name: azd environment values", () => {
    for (const name of optional) expect(bicepparam, name).toMatch(new RegExp(`^  ${name}: readEnvironmentVariable\\('${name}', ''\\)$`, "m"));
    for (const [name, parameter] of Object.entries(OWN_PARAMETERS)) {
      expect(bicepparam, `${parameter} comes from ${name}`).toMatch(new RegExp(`readEnvironmentVariable\\('${name}'`));
      expect(bicepparam).toMatch(new RegExp(`^param ${parameter} = `, "m"));
    }
  });

  it("the pipeline defines each as a variable, empty by default (the code's default)", () => {
    for (const name of optional) expect(pipeline.variables[name], name).toBe("");
    for (const name of Object.keys(OWN_PARAMETERS).filter((n) => n !== "USER_SYNC_TENANT_MODE" && n !== "GRAPH_CLOUD" && n !== "GRAPH_CREDENTIAL")) expect(pipeline.variables, name).toHaveProperty([name]);
  });

  it("main.bicep passes them to the app, which sets only those given a value", () => {
    const fn = modules(main).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.optionalSettings")?.text).toBe("optionalSettings");
    expect(variables(functionApp).get("givenOptionalSettings")?.text).toBe("toObject(filter(items(optionalSettings), setting => !empty(setting.value)), setting => setting.key, setting => setting.value)");
    const settings = functionApp.source.match(/properties: union\(([^)]*)\)/)?.[1]?.split(",").map((s) => s.trim());
    expect(settings).toContain("givenOptionalSettings");
  });

  it("the Bicep CLI carries the environment's values into the deployment's parameters", () => {
    const bicep = run("bash", [join(ROOT, "tools", "infra-check.sh"), "--restore", "--print-path"], { env: process.env, timeoutInMs: 300_000 });
    expect(bicep.code, bicep.stderr).toBe(0);
    const unset = Object.fromEntries(Object.entries(process.env).filter(([name]) => !optional.includes(name)));
    const env = { ...unset, AZURE_ENV_NAME: "test", SNAPSHOT_RETENTION_COUNT: "30", USER_SYNC_FULL_SCHEDULE: "0 30 3 * * 0", USER_SYNC_MAX_RUN_MINUTES: "20" };
    const built = run(bicep.stdout.trim(), ["build-params", join(ROOT, "infra", "main.bicepparam"), "--stdout"], { env, timeoutInMs: 300_000 });
    expect(built.code, built.stderr).toBe(0);
    const parameters = (JSON.parse((JSON.parse(built.stdout) as { parametersJson: string }).parametersJson) as { parameters: Record<string, { value: unknown }> }).parameters;
    expect(parameters.optionalSettings!.value).toEqual({ ...Object.fromEntries(optional.map((name) => [name, ""])), SNAPSHOT_RETENTION_COUNT: "30", USER_SYNC_FULL_SCHEDULE: "0 30 3 * * 0" });
    expect(parameters.userSyncMaxRunMinutes!.value).toBe(20);
  }, 600_000);
});
