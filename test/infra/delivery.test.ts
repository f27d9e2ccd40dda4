import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseBicepFile, property, stringLiteral, resources, modules } from "../support/bicepSyntax.js";

const ROOT = join(import.meta.dirname, "..", "..");

type Step = { task?: string; script?: string; inputs?: Record<string, unknown>; name?: string; download?: string; artifact?: string; env?: Record<string, string> };
type Job = {
  job?: string;
  deployment?: string;
  condition?: string;
  environment?: string;
  steps?: Step[];
  strategy?: { runOnce?: { deploy?: { steps?: Step[] } } };
};
type Stage = { stage: string; dependsOn?: string | string[]; condition?: string; jobs: Job[]; variables?: Record<string, string> };
type Pipeline = { trigger: unknown; pr: unknown; variables: Record<string, string>; stages: Stage[] };

const pipeline = parse(readFileSync(join(ROOT, "azure-pipelines.yml"), "utf8")) as Pipeline;

function stage(name: string): Stage {
  const found = pipeline.stages.find((s) => s.stage === name);
  if (!found) throw new Error(`no stage ${name}`);
  return found;
}

function stepsOf(job: Job): Step[] {
  return job.steps ?? job.strategy?.runOnce?.deploy?.steps ?? [];
}

function scriptsOf(job: Job): string {
  return stepsOf(job)
    .map((s) => s.script ?? (typeof s.inputs?.inlineScript === "string" ? s.inputs.inlineScript : ""))
    .join("\n");
}

type Task = Step & { condition?: string };

function job(stageName: string): Job {
  const [only] = stage(stageName).jobs;
  if (!only) throw new Error(`no job in ${stageName}`);
  return only;
}

describe("azure-pipelines.yml", () => {
  it("has the Validate, Azure, Entra and Deploy stages in order", () => {
    expect(pipeline.stages.map((s) => s.stage)).toEqual(["Validate", "Azure", "Entra", "Deploy"]);
    expect(stage("Azure").dependsOn).toBe("Validate");
    expect(stage("Entra").dependsOn).toBe("Azure");
    expect(stage("Deploy").dependsOn).toEqual(["Azure", "Entra"]);
  });

  it("validates pull requests without any service connection or environment", () => {
    const validate = stage("Validate");
    expect(validate.condition).toBeUndefined();
    const text = JSON.stringify(validate);
    expect(text).not.toMatch(/ServiceConnection|azureSubscription|connectedServiceNameARM|environment/);
    expect(job("Validate").environment).toBeUndefined();
  });

  it("reaches the deploying identities only on main, never on a pull request, in deployment jobs behind environments", () => {
    for (const name of ["Azure", "Entra", "Deploy"]) {
      const s = stage(name);
      expect(s.condition, name).toMatch(/eq\(variables\.isMain, true\)/);
      expect(s.condition, name).toMatch(/ne\(variables\.isPullRequest, true\)/);
      expect(job(name).deployment, name).toBeDefined();
      expect(job(name).environment, name).toMatch(/^\$\((azureEnvironment|entraEnvironment)\)$/);
    }
    expect(pipeline.variables.isMain).toBe("$[eq(variables['Build.SourceBranch'], 'refs/heads/main')]");
    expect(pipeline.variables.isPullRequest).toBe("$[eq(variables['Build.Reason'], 'PullRequest')]");
  });

  it("uses the Graph-privileged identity in the Entra stage only, with an approval environment of its own", () => {
    const entraConnection = pipeline.variables.entraServiceConnection;
    const azureConnection = pipeline.variables.azureServiceConnection;
    expect(entraConnection).toBeTruthy();
    expect(azureConnection).toBeTruthy();
    expect(entraConnection).not.toBe(azureConnection);
    expect(pipeline.variables.entraEnvironment).not.toBe(pipeline.variables.azureEnvironment);
    expect(job("Entra").environment).toBe("$(entraEnvironment)");
    const connectionsOf = (name: string) =>
      stepsOf(job(name)).flatMap((s) => [s.inputs?.azureSubscription, s.inputs?.connectedServiceNameARM]).filter((c) => c !== undefined);
    expect(connectionsOf("Entra")).toEqual(["$(entraServiceConnection)"]);
    expect(new Set([...connectionsOf("Azure"), ...connectionsOf("Deploy")])).toEqual(new Set(["$(azureServiceConnection)"]));
    expect(stage("Entra").condition).toMatch(/ne\(variables\.MANAGE_APP_REGISTRATION, 'false'\)/);
  });

  it("validates on Node 22 with an npm cache: npm ci, npm test (build, typecheck, lint, tests), JUnit results published", () => {
    const steps = stepsOf(job("Validate"));
    expect(steps.find((s) => s.task === "UseNode@1")?.inputs?.version).toBe("22.x");
    const cache = steps.find((s) => s.task === "Cache@2" && s.inputs?.path === "$(npm_config_cache)");
    expect(cache?.inputs?.key).toMatch(/package-lock\.json/);
    expect(pipeline.variables.npm_config_cache).toBe("$(Pipeline.Workspace)/.npm");
    const scripts = scriptsOf(job("Validate"));
    expect(scripts).toMatch(/^npm ci\b/m);
    expect(scripts).toMatch(/^npm test$/m);
    const results = steps.find((s) => s.task === "PublishTestResults@2") as Task | undefined;
    expect(results?.condition).toBe("succeededOrFailed()");
    expect(results?.inputs).toMatchObject({ testResultsFormat: "JUnit", testResultsFiles: "test-results/junit.xml" });
    const vitestConfig = readFileSync(join(ROOT, "vitest.config.ts"), "utf8");
    expect(vitestConfig).toContain('["junit", { outputFile: "test-results/junit.xml" }]');
    expect(vitestConfig).toContain('["json", { outputFile: "test-results/vitest.json" }]');
  });

  it("compiles and lints the Bicep with the pinned CLI, as .ci/run does", () => {
    expect(scriptsOf(job("Validate"))).toMatch(/^bash tools\/infra-check\.sh --restore$/m);
    expect(readFileSync(join(ROOT, ".ci", "run"), "utf8")).toMatch(/^bash tools\/infra-check\.sh --restore$/m);
    expect(readFileSync(join(ROOT, "tools", "bicep", "bicep.csproj"), "utf8")).toMatch(
      /<BicepVersion>\d+\.\d+\.\d+<\/BicepVersion>[\s\S]*<PackageDownload Include="Azure\.Bicep\.CommandLine\.linux-x64" Version="\[\$\(BicepVersion\)\]" \/>/,
    );
    // The deployments compile with the same pinned binary, not the Azure CLI's own download.
    for (const name of ["Azure", "Entra"]) {
      const script = scriptsOf(job(name));
      expect(script, name).toContain("bash tools/infra-check.sh --restore --print-path");
      expect(script, name).toContain("az config set bicep.use_binary_from_path=true");
      expect(script, name).not.toMatch(/az bicep (upgrade|install)/);
    }
  });

  it("uses stable major versions of its tasks", () => {
    const tasks = pipeline.stages.flatMap((s) => s.jobs.flatMap((j) => stepsOf(j).map((step) => step.task))).filter((t): t is string => !!t);
    const STABLE = ["UseNode@1", "Cache@2", "PublishTestResults@2", "ArchiveFiles@2", "PublishPipelineArtifact@1", "AzureCLI@2", "AzureFunctionApp@2"];
    for (const t of tasks) expect(STABLE, t).toContain(t);
  });

  it("zips the staged package (the folder azd deploys) and deploys it with AzureFunctionApp@2 (Flex Consumption)", () => {
    expect(scriptsOf(job("Validate"))).toMatch(/^node infra\/scripts\/stage-app\.mjs --no-build$/m);
    const zip = stepsOf(job("Validate")).find((s) => s.task === "ArchiveFiles@2");
    expect(zip?.inputs).toMatchObject({ rootFolderOrFile: "dist/package", archiveType: "zip", includeRootFolder: false });
    const deploy = stepsOf(job("Deploy")).find((s) => s.task === "AzureFunctionApp@2");
    expect(deploy?.inputs).toMatchObject({
      connectedServiceNameARM: "$(azureServiceConnection)",
      appType: "functionAppLinux",
      isFlexConsumption: true,
      appName: "$(functionAppName)",
      package: "$(Pipeline.Workspace)/app/entra-user-sync.zip",
    });
    expect(stage("Deploy").variables?.functionAppName).toBe("$[ stageDependencies.Azure.azure.outputs['azure.deploy.functionAppName'] ]");
    expect(stage("Deploy").variables?.graphClientId).toBe("$[ stageDependencies.Entra.entra.outputs['entra.deploy.graphClientId'] ]");
  });

  it("smoke-checks the app after deploying its code", () => {
    const steps = stepsOf(job("Deploy"));
    const deployAt = steps.findIndex((s) => s.task === "AzureFunctionApp@2");
    const smokeAt = steps.findIndex((s) => String(s.inputs?.inlineScript ?? "").includes("infra/scripts/smoke-check.sh"));
    expect(smokeAt).toBeGreaterThan(deployAt);
    expect(String(steps[smokeAt]!.inputs!.inlineScript)).toBe('bash infra/scripts/smoke-check.sh "$(resourceGroupName)" "$(functionAppName)"');
  });

  it("checks the Graph grant in the Entra stage, as a statement whose failure stops the stage", () => {
    const script = scriptsOf(job("Entra"));
    expect(script).toMatch(/^set -euo pipefail$/m);
    expect(script).toMatch(/^client_id=\$\(bash infra\/scripts\/deploy-entra\.sh\)$/m);
    // No `export X=$(...)` or `cmd "$(...)"` that would hide a failure.
    for (const name of ["Azure", "Entra", "Deploy"]) expect(scriptsOf(job(name)), name).not.toMatch(/export \w+=\$\(|"\$\(bash /);
    const deployEntra = readFileSync(join(ROOT, "infra", "scripts", "deploy-entra.sh"), "utf8");
    expect(deployEntra).toMatch(/^grant_exists=\$\(bash "\$here\/graph-grant-exists\.sh" "\$APP_UNIQUE_NAME"\)$/m);
  });

  it("sets every environment variable the parameters files read without a default", () => {
    const required = ["main.bicepparam", "entra/main.bicepparam"].flatMap((file) =>
      [...readFileSync(join(ROOT, "infra", file), "utf8").matchAll(/readEnvironmentVariable\('([A-Z_]+)'\)/g)].map((m) => m[1]!),
    );
    expect(required).toEqual(expect.arrayContaining(["AZURE_ENV_NAME", "GRAPH_GRANT_EXISTS"]));
    // Set by the Entra stage's script (deploy-entra.sh).
    const SET_BY_SCRIPTS = ["GRAPH_GRANT_EXISTS"];
    for (const name of required.filter((n) => !SET_BY_SCRIPTS.includes(n))) expect(pipeline.variables, name).toHaveProperty([name]);
    expect(scriptsOf(job("Entra"))).toContain('export FUNCTION_IDENTITY_PRINCIPAL_ID="$principal_id"');
  });
});

describe("azure.yaml", () => {
  type Hook = { shell: string; run: string; continueOnError: boolean };
  const azd = parse(readFileSync(join(ROOT, "azure.yaml"), "utf8")) as {
    name: string;
    infra: { provider: string; path: string; module: string };
    services: Record<string, { project: string; language: string; host: string; dist: string; remoteBuild: boolean; hooks: Record<string, { posix: Hook; windows: Hook }> }>;
    hooks: Record<string, { posix: Hook; windows: Hook }>;
  };

  it("provisions infra/main.bicep (the Azure deployment) with Bicep", () => {
    expect(azd.infra).toEqual({ provider: "bicep", path: "infra", module: "main" });
  });

  it("deploys the staged package without a remote build, to the app Bicep tags for it", async () => {
    const services = Object.entries(azd.services);
    expect(services).toHaveLength(1);
    const [name, service] = services[0]!;
    expect(service).toMatchObject({ project: ".", language: "ts", host: "function", dist: "dist/package", remoteBuild: false });
    for (const shell of ["posix", "windows"] as const) expect(service.hooks.prepackage![shell].run).toBe("node infra/scripts/stage-app.mjs");
    const main = await parseBicepFile(join(ROOT, "infra", "main.bicep"));
    const fn = modules(main).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.azdServiceName")?.text).toBe("azdServiceName");
    const azdServiceName = main.root.namedChildren.find((n) => n.type === "variable_declaration" && n.namedChildren[0]?.text === "azdServiceName");
    expect(stringLiteral(azdServiceName?.namedChildren[1])).toBe(name);
    const app = await parseBicepFile(join(ROOT, "infra", "modules", "function-app.bicep"));
    const site = resources(app).find((r) => r.type === "Microsoft.Web/sites")!;
    expect(property(site.body, "tags")?.text).toContain("'azd-service-name': azdServiceName");
  });

  it("has a posix and a Windows variant of every hook, none of which may fail silently", () => {
    const hooks = [...Object.values(azd.hooks), ...Object.values(azd.services).flatMap((s) => Object.values(s.hooks))];
    expect(hooks.length).toBeGreaterThanOrEqual(3);
    for (const hook of hooks) {
      expect(hook.posix).toMatchObject({ shell: "sh", continueOnError: false });
      expect(hook.windows).toMatchObject({ shell: "pwsh", continueOnError: false });
      expect(hook.posix.run).toBeTruthy();
      expect(hook.windows.run).toBeTruthy();
    }
  });

  it("deploys the Entra part after provisioning, checking the Graph grant first", () => {
    expect(azd.hooks.postprovision!.posix.run).toBe("sh infra/scripts/azd-postprovision.sh");
    expect(azd.hooks.postprovision!.windows.run).toBe("pwsh -NoProfile -File infra/scripts/azd-postprovision.ps1");
  });
});
