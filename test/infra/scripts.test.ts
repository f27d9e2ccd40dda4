import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { graphStub, powershell, ROOT, run, runAsync, sandbox, type Sandbox } from "../support/scriptStubs.js";

const SCRIPTS = join(ROOT, "infra", "scripts");
const CLIENT_ID = "11111111-2222-3333-4444-555555555555";
const AZURE_OUTPUTS = JSON.stringify({
  CERTIFICATE_CREDENTIALS: { value: [{ displayName: "entra-user-sync ABCD", key: "TUlJQ2VydA==", startDateTime: "2026-01-01", endDateTime: "2027-01-01" }] },
  FUNCTION_IDENTITY_PRINCIPAL_ID: { value: "99999999-0000-0000-0000-000000000000" },
});
const BASE_ENV = { AZURE_ENV_NAME: "test", AZURE_RESOURCE_GROUP: "rg-test", AZURE_FUNCTION_NAME: "func-usersync-x", STUB_CLIENT_ID: CLIENT_ID };

const deployments = (box: Sandbox) => box.calls().filter((c) => c.startsWith("az deployment group create"));
const grantCheckFailure = { ...BASE_ENV, STUB_GRAPH_FAIL: "1" };

describe("deploy-entra.sh (the Entra deployment, pipeline and azd posix hook)", () => {
  it("stops before deploying when the grant check fails, with the check's message", () => {
    const box = sandbox(grantCheckFailure);
    const result = run("bash", [join(SCRIPTS, "deploy-entra.sh")], { env: box.env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("Authorization_RequestDenied");
    expect(result.stderr).toContain("needs the Application.Read.All application permission");
    expect(deployments(box)).toEqual([]);
    expect(result.stdout).toBe("");
  });

  it("passes the check's answer to the deployment and prints the application's client id", () => {
    const box = sandbox({ ...BASE_ENV, STUB_APP_ID: "app-id", STUB_GRANT_COUNT: "1" });
    const result = run("bash", [join(SCRIPTS, "deploy-entra.sh")], { env: box.env });
    expect(result.stderr).toContain("User.Read.All grant already present: true");
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${CLIENT_ID}\n`);
    expect(box.calls()).toContainEqual(expect.stringMatching(/^deploy GRAPH_GRANT_EXISTS=true /));
    expect(deployments(box)[0]).toContain("--name entra-user-sync-entra --parameters");
    expect(deployments(box)[0]).toContain("infra/scripts/../entra/main.bicepparam");
  });

  it("with USER_SYNC_GROUPS=true, also checks the GroupMember.Read.All grant and passes its answer; without it, does not ask", () => {
    const box = sandbox({ ...BASE_ENV, STUB_APP_ID: "app-id", STUB_GRANT_COUNT: "1", USER_SYNC_GROUPS: "true" });
    const result = run("bash", [join(SCRIPTS, "deploy-entra.sh")], { env: box.env });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("GroupMember.Read.All grant already present: true");
    expect(box.calls()).toContainEqual(expect.stringMatching(/^deploy GRAPH_GRANT_EXISTS=true .* GROUP_MEMBER_GRANT_EXISTS=true$/));
    expect(box.calls().filter((c) => c.includes("appRoleId=='98830695-27a2-44f7-8c18-0c3ebc9698f6'"))).toHaveLength(1);

    const without = sandbox({ ...BASE_ENV, STUB_APP_ID: "app-id", STUB_GRANT_COUNT: "1" });
    expect(run("bash", [join(SCRIPTS, "deploy-entra.sh")], { env: without.env }).code).toBe(0);
    expect(without.calls()).toContainEqual(expect.stringMatching(/^deploy GRAPH_GRANT_EXISTS=true .* GROUP_MEMBER_GRANT_EXISTS=false$/));
    expect(without.calls().filter((c) => c.includes("98830695-27a2-44f7-8c18-0c3ebc9698f6"))).toEqual([]);
  });

  it("answers false for an application that does not exist yet", () => {
    const box = sandbox(BASE_ENV);
    const result = run("bash", [join(SCRIPTS, "deploy-entra.sh")], { env: box.env });
    expect(result.code).toBe(0);
    expect(box.calls()).toContainEqual(expect.stringMatching(/^deploy GRAPH_GRANT_EXISTS=false /));
  });
});

describe("azd postprovision hook", () => {
  let pwsh = "pwsh";
  // PowerShell may have to be restored from NuGet first (once per machine): not inside a test's time.
  beforeAll(() => {
    pwsh = powershell();
  }, 600_000);
  const variants = [
    { name: "posix (sh)", command: () => "sh", args: [join(SCRIPTS, "azd-postprovision.sh")] },
    { name: "Windows (PowerShell)", command: () => pwsh, args: ["-NoProfile", "-File", join(SCRIPTS, "azd-postprovision.ps1")] },
  ];

  /** Runs the hook with a loopback Graph for the PowerShell grant check (the posix one uses `az rest`). */
  async function hook(variant: (typeof variants)[number], env: Record<string, string>) {
    const box = sandbox(env);
    const graph = await graphStub(box.env);
    try {
      const result = await runAsync(variant.command(), variant.args, { env: { ...box.env, GRAPH_GRANT_CHECK_URL: graph.url }, timeoutInMs: 120_000 });
      return { box, result, graph };
    } finally {
      await graph.close();
    }
  }

  for (const variant of variants) {
    describe(variant.name, () => {
      it("fails when the grant check fails: nothing deployed, nothing set", async () => {
        const { box, result } = await hook(variant, grantCheckFailure);
        expect(result.code).not.toBe(0);
        expect(result.stderr).toContain("Authorization_RequestDenied");
        expect(result.stderr).toContain("needs the Application.Read.All application permission");
        expect(deployments(box)).toEqual([]);
        expect(box.calls().filter((c) => c.startsWith("azd ") || c.includes("appsettings set"))).toEqual([]);
      });

      it("deploys the Entra part and hands a new client id to azd and to the app", async () => {
        const { box, result } = await hook(variant, { ...BASE_ENV, STUB_APP_ID: "app-id", STUB_GRANT_COUNT: "0" });
        expect(result.stderr).toContain("User.Read.All grant already present: false");
        expect(result.code).toBe(0);
        expect(result.stdout).toContain(`App registration ready: GRAPH_CLIENT_ID=${CLIENT_ID}`);
        expect(box.calls()).toContainEqual(expect.stringMatching(/^deploy GRAPH_GRANT_EXISTS=false /));
        expect(box.calls()).toContain(`azd env set GRAPH_CLIENT_ID ${CLIENT_ID}`);
        expect(box.calls()).toContain(`az functionapp config appsettings set --resource-group rg-test --name func-usersync-x --settings GRAPH_CLIENT_ID=${CLIENT_ID} --output none`);
      });

      it("sees an existing grant, and leaves azd and the app alone when the client id is already set", async () => {
        const { box, result } = await hook(variant, { ...BASE_ENV, GRAPH_CLIENT_ID: CLIENT_ID, STUB_APP_ID: "app-id", STUB_GRANT_COUNT: "1" });
        expect(result.stderr).toContain("User.Read.All grant already present: true");
        expect(result.code).toBe(0);
        expect(deployments(box)).toHaveLength(1);
        expect(box.calls()).toContainEqual(expect.stringMatching(/^deploy GRAPH_GRANT_EXISTS=true /));
        expect(box.calls().filter((c) => c.startsWith("azd ") || c.includes("appsettings set"))).toEqual([]);
      });

      it("does nothing with MANAGE_APP_REGISTRATION=false", async () => {
        const { box, result, graph } = await hook(variant, { ...BASE_ENV, MANAGE_APP_REGISTRATION: "false" });
        expect(result.code).toBe(0);
        expect(box.calls()).toEqual([]);
        expect(graph.requests).toEqual([]);
      });
    });
  }

  it("PowerShell: calls Graph itself with the Azure CLI's token (no az rest through az.cmd)", async () => {
    const { box, graph } = await hook(variants[1]!, { ...BASE_ENV, STUB_APP_ID: "app-id", STUB_GRANT_COUNT: "1" });
    expect(box.calls().filter((c) => c.startsWith("az rest"))).toEqual([]);
    expect(box.calls()).toContain("az account get-access-token --resource-type ms-graph --query accessToken -o tsv");
    expect(graph.requests).toEqual([
      "Bearer stub-graph-token /v1.0/applications(uniqueName='entra-user-sync-test')?$select=appId",
      "Bearer stub-graph-token /v1.0/servicePrincipals(appId='app-id')?$select=id",
      "Bearer stub-graph-token /v1.0/servicePrincipals(appId='00000003-0000-0000-c000-000000000000')?$select=id",
      "Bearer stub-graph-token /v1.0/servicePrincipals/app-service-principal/appRoleAssignments",
    ]);
  });

  it("PowerShell: fails with the fix when the Azure CLI has no token", async () => {
    const { box, result } = await hook(variants[1]!, { ...BASE_ENV, STUB_NO_TOKEN: "1" });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("Could not get a Microsoft Graph token from the Azure CLI: run az login.");
    expect(deployments(box)).toEqual([]);
  });
});

describe("the pipeline's inline scripts", () => {
  type Step = { task?: string; inputs?: { inlineScript?: string } };
  type Pipeline = { variables: Record<string, string>; stages: Array<{ stage: string; jobs: Array<{ strategy: { runOnce: { deploy: { steps: Step[] } } } }> }> };
  const pipeline = parse(readFileSync(join(ROOT, "azure-pipelines.yml"), "utf8")) as Pipeline;

  /** The stage's AzureCLI@2 script with the pipeline's $(variable) macros expanded, as Azure DevOps does. */
  function inlineScript(stageName: string, macros: Record<string, string>): string {
    const steps = pipeline.stages.find((s) => s.stage === stageName)!.jobs[0]!.strategy.runOnce.deploy.steps;
    const script = steps.find((s) => s.task === "AzureCLI@2")!.inputs!.inlineScript!;
    const values: Record<string, string> = { ...pipeline.variables, ...macros };
    return script.replace(/\$\(([\w.]+)\)/g, (text, name: string) => values[name] ?? text);
  }

  /** A checkout with the real infra/ and a stand-in for the Bicep restore (no NuGet needed here). */
  function checkout(box: Sandbox): string {
    const dir = join(box.dir, "checkout");
    cpSync(join(ROOT, "infra"), join(dir, "infra"), { recursive: true });
    mkdirSync(join(dir, "tools"));
    writeFileSync(join(dir, "tools", "infra-check.sh"), "echo /opt/bicep/bicep\n");
    return dir;
  }

  const variablesAsEnvironment = () => Object.fromEntries(Object.entries(pipeline.variables).filter(([name]) => /^[A-Z_]+$/.test(name)));

  it("Entra stage: a failed grant check fails the stage before the Entra deployment", () => {
    const box = sandbox({ ...variablesAsEnvironment(), STUB_GRAPH_FAIL: "1", STUB_AZURE_OUTPUTS: AZURE_OUTPUTS });
    const result = run("bash", ["-c", inlineScript("Entra", { "Agent.TempDirectory": box.dir })], { cwd: checkout(box), env: box.env });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("Authorization_RequestDenied");
    expect(deployments(box)).toEqual([]);
    expect(result.stdout).not.toContain("##vso[task.setvariable variable=graphClientId");
  });

  it("Entra stage: deploys with the Azure deployment's outputs and publishes the client id", () => {
    const box = sandbox({ ...variablesAsEnvironment(), STUB_APP_ID: "app-id", STUB_GRANT_COUNT: "1", STUB_AZURE_OUTPUTS: AZURE_OUTPUTS, STUB_CLIENT_ID: CLIENT_ID });
    const result = run("bash", ["-c", inlineScript("Entra", { "Agent.TempDirectory": box.dir })], { cwd: checkout(box), env: box.env });
    expect(result.stderr).toContain("User.Read.All grant already present: true");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain(`##vso[task.setvariable variable=graphClientId;isOutput=true]${CLIENT_ID}`);
    const deployed = box.calls().find((c) => c.startsWith("deploy "))!;
    expect(deployed).toContain('CERTIFICATE_CREDENTIALS=[{"displayName":"entra-user-sync ABCD"');
    expect(deployed).toContain("FUNCTION_IDENTITY_PRINCIPAL_ID=99999999-0000-0000-0000-000000000000");
    expect(box.calls()).toContain("az config set bicep.use_binary_from_path=true --only-show-errors");
  });

  it("Azure stage: before the first Entra deployment, deploys with an empty GRAPH_CLIENT_ID", () => {
    const notFound = "ERROR: (DeploymentNotFound) Deployment could not be found.";
    const box = sandbox({ ...variablesAsEnvironment(), STUB_ENTRA_SHOW_ERROR: notFound, STUB_AZURE_SHOW_ERROR: notFound });
    const result = run("bash", ["-c", inlineScript("Azure", { "Agent.TempDirectory": box.dir })], { cwd: checkout(box), env: box.env });
    expect(result.code).toBe(0);
    expect(box.calls()).toContainEqual(expect.stringMatching(/^deploy GRAPH_GRANT_EXISTS= GRAPH_CLIENT_ID= /));
    expect(result.stdout).toContain("##vso[task.setvariable variable=functionAppName;isOutput=true]func-usersync-x");
  });

  it("Azure stage: takes GRAPH_CLIENT_ID from the last Entra deployment, and stops if it cannot read it", () => {
    const box = sandbox({ ...variablesAsEnvironment(), STUB_CLIENT_ID: CLIENT_ID });
    const ok = run("bash", ["-c", inlineScript("Azure", { "Agent.TempDirectory": box.dir })], { cwd: checkout(box), env: box.env });
    expect(ok.code).toBe(0);
    expect(box.calls()).toContainEqual(expect.stringContaining(`GRAPH_CLIENT_ID=${CLIENT_ID} `));

    const denied = sandbox({ ...variablesAsEnvironment(), STUB_ENTRA_SHOW_ERROR: "ERROR: (AuthorizationFailed) The client does not have authorization." });
    const failed = run("bash", ["-c", inlineScript("Azure", { "Agent.TempDirectory": denied.dir })], { cwd: checkout(denied), env: denied.env });
    expect(failed.code).not.toBe(0);
    expect(failed.stderr).toContain("AuthorizationFailed");
    expect(deployments(denied)).toEqual([]);
  });
});

describe("entra-client-id.sh", () => {
  it("never blanks a working app's client id when the last Entra deployment failed: it keeps the Azure deployment's", () => {
    const box = sandbox({ STUB_ENTRA_STATE: "Failed", STUB_AZURE_CLIENT_ID: CLIENT_ID });
    const result = run("bash", [join(SCRIPTS, "entra-client-id.sh"), "rg-test"], { env: box.env });
    expect(result.code).toBe(0);
    expect(result.stdout).toBe(`${CLIENT_ID}\n`);
    expect(result.stderr).toContain("The last Entra deployment entra-user-sync-entra is Failed");
  });

  it("prints the last successful Entra deployment's client id", () => {
    const box = sandbox({ STUB_CLIENT_ID: CLIENT_ID, STUB_AZURE_CLIENT_ID: "00000000-0000-0000-0000-000000000000" });
    const result = run("bash", [join(SCRIPTS, "entra-client-id.sh"), "rg-test"], { env: box.env });
    expect(result.stdout).toBe(`${CLIENT_ID}\n`);
  });
});

describe("smoke-check.sh", () => {
  const SETTINGS = "GRAPH_TENANT_ID GRAPH_CLIENT_ID GRAPH_CLOUD GRAPH_CREDENTIAL SNAPSHOT_STORAGE__tableServiceUri USER_SYNC_SCHEDULE USER_SYNC_MAX_RUN_MINUTES AzureWebJobsStorage__accountName AZURE_CLIENT_ID APPLICATIONINSIGHTS_CONNECTION_STRING KEY_VAULT_URL KEY_VAULT_CERTIFICATE_NAME";
  const smoke = (env: Record<string, string>) => {
    const box = sandbox({ SMOKE_CHECK_ATTEMPTS: "2", SMOKE_CHECK_DELAY_SECONDS: "0", ...env });
    return { box, result: run("bash", [join(SCRIPTS, "smoke-check.sh"), "rg-test", "func-x"], { env: box.env }) };
  };

  it("passes when userSync is registered and every setting the code needs is present", () => {
    const { box, result } = smoke({ STUB_FUNCTIONS: "func-x/userSync", STUB_SETTING_NAMES: SETTINGS });
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(result.stdout).toContain("ok: function userSync is registered");
    // Setting values never leave Azure: every settings query selects names, or the credential mode.
    for (const call of box.calls().filter((c) => c.includes("appsettings list"))) expect(call).toMatch(/--query (\[\?value != null && value != ''\]\.name|\[\?name == 'GRAPH_CREDENTIAL'\]\.value \| \[0\])/);
  });

  it("fails when the function is not registered", () => {
    const { box, result } = smoke({ STUB_FUNCTIONS: "", STUB_SETTING_NAMES: SETTINGS });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("has not registered the userSync function");
    expect(box.calls().filter((c) => c.includes("function list"))).toHaveLength(2);
  });

  it("fails and names the settings that are missing", () => {
    const { result } = smoke({ STUB_FUNCTIONS: "func-x/userSync", STUB_SETTING_NAMES: SETTINGS.replace("GRAPH_CLIENT_ID ", "").replace(" KEY_VAULT_URL", "") });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("lacks these app settings (or they are empty): GRAPH_CLIENT_ID KEY_VAULT_URL");
  });
});

describe("certificate-credentials.sh (deployment script)", () => {
  type Version = { version: string; enabled: boolean; expires: string; notBefore: string };
  const current = (version: string): Version => ({ version, enabled: true, expires: "2099-01-01T00:00:00+00:00", notBefore: "2026-01-01T00:00:00+00:00" });
  /** Runs the script against the stub vault (`vault`: certificate name → versions, oldest first). */
  const deploy = (names: string, vault: Record<string, Version[]>, env: Record<string, string> = {}) => {
    const box = sandbox({ VAULT_NAME: "kv", CERTIFICATE_NAMES: names, CERTIFICATE_SUBJECT: "CN=x", VALIDITY_IN_MONTHS: "12", RETRY_DELAY_SECONDS: "0", STUB_VAULT: JSON.stringify(vault), ...env });
    const output = join(box.dir, "outputs.json");
    const result = run("bash", [join(SCRIPTS, "certificate-credentials.sh")], { env: { ...box.env, AZ_SCRIPTS_OUTPUT_PATH: output } });
    const written = () => (JSON.parse(readFileSync(output, "utf8")) as { certificateCredentials: Array<Record<string, string>> }).certificateCredentials;
    const creates = box.calls().filter((c) => c.startsWith("az keyvault certificate create"));
    return { result, written, creates, vault: () => JSON.parse(readFileSync(`${box.log}.vault.json`, "utf8")) as Record<string, Version[]> };
  };

  it("parses only the Azure CLI's standard output, so warnings on standard error do not corrupt the JSON", () => {
    const { result, written } = deploy("entra-user-sync", { "entra-user-sync": [current("v1")] }, { STUB_FORBIDDEN_ONCE: "1" });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toContain("Waiting for the Key Vault role assignment to propagate");
    expect(result.stderr).toContain("WARNING: a warning on standard error");
    expect(written()).toEqual([{ displayName: "entra-user-sync V100112233445566", key: Buffer.from("MIICv1").toString("base64"), startDateTime: "2026-01-01T00:00:00+00:00", endDateTime: "2099-01-01T00:00:00+00:00" }]);
  });

  it("first deployment: creates the missing certificate and returns its version", () => {
    const { result, written, creates, vault } = deploy("entra-user-sync", {});
    expect(result.code, result.stderr).toBe(0);
    expect(creates).toHaveLength(1);
    expect(creates[0]).toContain("--vault-name kv --name entra-user-sync --policy");
    expect(result.stderr).toContain("Certificate entra-user-sync does not exist in kv: creating it");
    const [created] = vault()["entra-user-sync"]!;
    expect(written()).toEqual([expect.objectContaining({ key: Buffer.from(`MIIC${created!.version}`).toString("base64"), endDateTime: created!.expires })]);
    // Twelve months from now, as VALIDITY_IN_MONTHS says.
    expect(new Date(created!.expires).getTime() - Date.now()).toBeGreaterThan(360 * 86_400_000);
  });

  it("redeployment: reuses the existing certificate, creates nothing", () => {
    const { result, written, creates } = deploy("entra-user-sync", { "entra-user-sync": [current("v1")] });
    expect(result.code, result.stderr).toBe(0);
    expect(creates).toEqual([]);
    expect(result.stderr).not.toContain("creating");
    expect(written().map((c) => c.key)).toEqual([Buffer.from("MIICv1").toString("base64")]);
  });

  it("rotation to a new name: creates the new certificate and keeps trusting the old one", () => {
    const { result, written, creates, vault } = deploy("entra-user-sync-2027 entra-user-sync", { "entra-user-sync": [current("v1")] });
    expect(result.code, result.stderr).toBe(0);
    expect(creates).toHaveLength(1);
    expect(creates[0]).toContain("--name entra-user-sync-2027 ");
    const [created] = vault()["entra-user-sync-2027"]!;
    expect(written().map((c) => c.key)).toEqual([Buffer.from(`MIIC${created!.version}`).toString("base64"), Buffer.from("MIICv1").toString("base64")]);
  });

  it("a certificate whose versions are all disabled or expired gets a new version, and says so", () => {
    const expired = { ...current("v1"), expires: "2025-01-01T00:00:00+00:00" };
    const disabled = { ...current("v2"), enabled: false };
    const { result, written, creates, vault } = deploy("entra-user-sync", { "entra-user-sync": [expired, disabled] });
    expect(result.code, result.stderr).toBe(0);
    expect(creates).toHaveLength(1);
    expect(result.stderr).toContain("Certificate entra-user-sync in kv has no enabled, unexpired version: creating a new version");
    const versions = vault()["entra-user-sync"]!;
    expect(versions).toHaveLength(3);
    expect(written().map((c) => c.key)).toEqual([Buffer.from(`MIIC${versions[2]!.version}`).toString("base64")]);
  });

  it("trusts only the enabled, unexpired versions when there are some", () => {
    const { result, written, creates } = deploy("entra-user-sync", { "entra-user-sync": [{ ...current("v1"), expires: "2025-01-01T00:00:00+00:00" }, current("v2"), { ...current("v3"), enabled: false }] });
    expect(result.code, result.stderr).toBe(0);
    expect(creates).toEqual([]);
    expect(written().map((c) => c.key)).toEqual([Buffer.from("MIICv2").toString("base64")]);
  });

  it("stops without creating anything when the vault cannot be read for another reason", () => {
    const error = "ERROR: HTTPSConnectionPool(host='kv.vault.azure.net', port=443): Max retries exceeded with url: /certificates/entra-user-sync/?api-version=7.5";
    const { result, creates } = deploy("entra-user-sync", {}, { STUB_KEYVAULT_ERROR: error });
    expect(result.code).not.toBe(0);
    expect(creates).toEqual([]);
    expect(result.stderr).toContain(error);
    expect(result.stderr).toContain("could not tell whether certificate entra-user-sync exists in kv");
  });

  it("fails when Key Vault could not create the certificate, although the Azure CLI exits with 0", () => {
    const { result, creates } = deploy("entra-user-sync", {}, { STUB_CREATE_FAILS: "1" });
    expect(creates).toHaveLength(1);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain("creating certificate entra-user-sync in kv ended with status 'failed': The policy was rejected.");
  });
});
