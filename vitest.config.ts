import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Integration tests start Azurite and the simulated tenant per file; two cores, so keep it modest.
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line; the JUnit report
    // is what the pipeline publishes (azure-pipelines.yml, PublishTestResults@2).
    reporters: ["default", ["json", { outputFile: "test-results/vitest.json" }], ["junit", { outputFile: "test-results/junit.xml" }]],
  },
});
