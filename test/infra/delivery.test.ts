import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { parseBicepFile, property, stringLiteral, resources, modules } from "./bicep-syntax.js";

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

describe("azure-pipelines.yml", () => {
  it("has the Build, Provision and Deploy stages in order", () => {
    expect(pipeline.stages.map((s) => s.stage)).toEqual(["Build", "Provision", "Deploy"]);
    expect(stage("Provision").dependsOn).toBe("Build");
    expect(stage("Deploy").dependsOn).toBe("Provision");
  });

  it("builds on Node 22: npm ci, lint, test, Bicep build and lint", () => {
    const [build] = stage("Build").jobs;
    const node = stepsOf(build!).find((s) => s.task === "UseNode@1");
    expect(node?.inputs?.version).toBe("22.x");
    const scripts = scriptsOf(build!);
    expect(scripts).toMatch(/^npm ci$/m);
    expect(scripts).toMatch(/npm run lint/);
    expect(scripts).toMatch(/^npm test$/m);
    expect(scripts).toMatch(/az bicep build --file infra\/main\.bicep/);
    expect(scripts).toMatch(/az bicep build-params --file infra\/main\.bicepparam/);
    expect(scripts).toMatch(/az bicep lint --file infra\/main\.bicep/);
  });

  it("zips the compiled app with production dependencies only", () => {
    const [build] = stage("Build").jobs;
    const scripts = scriptsOf(build!);
    expect(scripts).toMatch(/cp -R dist\/src/);
    expect(scripts).toMatch(/npm ci --omit=dev/);
    const zip = stepsOf(build!).find((s) => s.task === "ArchiveFiles@2");
    expect(zip?.inputs).toMatchObject({ archiveType: "zip", includeRootFolder: false });
    const artifacts = stepsOf(build!).filter((s) => s.task === "PublishPipelineArtifact@1").map((s) => s.inputs?.artifact);
    expect(artifacts).toEqual(["app", "infra"]);
  });

  it("runs what-if with AzureCLI@2 on pull requests only", () => {
    const whatIf = stage("Provision").jobs.find((j) => j.job === "whatIf")!;
    expect(whatIf.condition).toMatch(/eq\(variables\.isPullRequest, true\)/);
    const cli = stepsOf(whatIf).find((s) => s.task === "AzureCLI@2");
    expect(cli?.inputs?.azureSubscription).toBe("$(azureServiceConnection)");
    expect(String(cli?.inputs?.inlineScript)).toMatch(/az deployment group what-if[\s\S]*--parameters main\.bicepparam/);
    expect(String(cli?.inputs?.inlineScript)).toMatch(/graph-grant-exists\.sh/);
  });

  it("deploys the infrastructure with AzureCLI@2 on main, in a deployment job on the environment", () => {
    const provision = stage("Provision").jobs.find((j) => j.deployment === "provision")!;
    expect(provision.environment).toBe("$(deploymentEnvironment)");
    expect(provision.condition).toMatch(/eq\(variables\.isMain, true\)/);
    expect(provision.condition).toMatch(/ne\(variables\.isPullRequest, true\)/);
    const cli = stepsOf(provision).find((s) => s.task === "AzureCLI@2")!;
    expect(cli.name).toBe("deploy");
    const script = String(cli.inputs?.inlineScript);
    expect(script.indexOf("graph-grant-exists.sh")).toBeGreaterThan(-1);
    expect(script.indexOf("graph-grant-exists.sh")).toBeLessThan(script.indexOf("az deployment group create"));
    expect(script).toMatch(/task\.setvariable variable=functionAppName;isOutput=true/);
  });

  it("deploys the code with AzureFunctionApp@2 (Flex Consumption) in a deployment job on the environment", () => {
    const deploy = stage("Deploy");
    expect(deploy.condition).toMatch(/eq\(variables\.isMain, true\)/);
    const [job] = deploy.jobs;
    expect(job?.deployment).toBeDefined();
    expect(job?.environment).toBe("$(deploymentEnvironment)");
    const task = stepsOf(job!).find((s) => s.task === "AzureFunctionApp@2");
    expect(task?.inputs).toMatchObject({
      connectedServiceNameARM: "$(azureServiceConnection)",
      appType: "functionAppLinux",
      isFlexConsumption: true,
      appName: "$(functionAppName)",
    });
    expect(deploy.variables?.functionAppName).toBe("$[ stageDependencies.Provision.provision.outputs['provision.deploy.functionAppName'] ]");
  });

  it("uses one service connection and one environment everywhere", () => {
    expect(pipeline.variables.azureServiceConnection).toBeTruthy();
    expect(pipeline.variables.deploymentEnvironment).toBeTruthy();
    const text = readFileSync(join(ROOT, "azure-pipelines.yml"), "utf8");
    expect(text).not.toMatch(/azureSubscription: (?!\$\(azureServiceConnection\))/);
  });

  it("sets every environment variable main.bicepparam reads without a default", async () => {
    const bicepparam = readFileSync(join(ROOT, "infra", "main.bicepparam"), "utf8");
    const required = [...bicepparam.matchAll(/readEnvironmentVariable\('([A-Z_]+)'\)/g)].map((m) => m[1]!);
    expect(required).toContain("AZURE_ENV_NAME");
    for (const name of required) expect(pipeline.variables, name).toHaveProperty([name]);
  });
});

describe("azure.yaml", () => {
  const azd = parse(readFileSync(join(ROOT, "azure.yaml"), "utf8")) as {
    name: string;
    infra: { provider: string; path: string; module: string };
    services: Record<string, { project: string; language: string; host: string }>;
    hooks: { preprovision: { posix: { run: string } } };
  };

  it("provisions infra/main.bicep with Bicep", () => {
    expect(azd.infra).toEqual({ provider: "bicep", path: "infra", module: "main" });
  });

  it("deploys this TypeScript project as a function app, to the app Bicep tags for it", async () => {
    const services = Object.entries(azd.services);
    expect(services).toHaveLength(1);
    const [name, service] = services[0]!;
    expect(service).toEqual({ project: ".", language: "ts", host: "function" });
    const main = await parseBicepFile(join(ROOT, "infra", "main.bicep"));
    const fn = modules(main).find((m) => m.path === "modules/function-app.bicep")!;
    expect(property(fn.body, "params.azdServiceName")?.text).toBe("azdServiceName");
    const azdServiceName = main.root.namedChildren.find((n) => n.type === "variable_declaration" && n.namedChildren[0]?.text === "azdServiceName");
    expect(stringLiteral(azdServiceName?.namedChildren[1])).toBe(name);
    const app = await parseBicepFile(join(ROOT, "infra", "modules", "function-app.bicep"));
    const site = resources(app).find((r) => r.type === "Microsoft.Web/sites")!;
    expect(property(site.body, "tags")?.text).toContain("'azd-service-name': azdServiceName");
  });

  it("checks the Graph grant before provisioning", () => {
    expect(azd.hooks.preprovision.posix.run).toMatch(/azd env set GRAPH_GRANT_EXISTS "\$\(bash infra\/scripts\/graph-grant-exists\.sh/);
  });
});
