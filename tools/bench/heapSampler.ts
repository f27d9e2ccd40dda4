/**
 * Loaded into the benchmark's worker process (`node --import <this> …`, tools/bench/tenantsBench.ts):
 * records the V8 heap's peak use, and its peak right after a full (mark-compact) collection — what
 * the process holds live, without the garbage V8 lets pile up between collections — and writes them
 * as JSON to the file named by BENCH_HEAP_REPORT when the process exits. Cheap: one heap-statistics
 * call every 100 ms (no /proc read, no allocation of note) and one per full collection.
 */
import { writeFileSync } from "node:fs";
import { constants, PerformanceObserver } from "node:perf_hooks";
import { getHeapStatistics } from "node:v8";

export interface HeapReport {
  /** Highest `used_heap_size` seen (live objects and garbage not yet collected), bytes. */
  peakHeapUsedBytes: number;
  /** Highest `used_heap_size` right after a full collection (about what is live), bytes. */
  peakHeapAfterFullGcBytes: number;
  /** Full collections seen. */
  fullCollections: number;
}

const report: HeapReport = { peakHeapUsedBytes: 0, peakHeapAfterFullGcBytes: 0, fullCollections: 0 };
const target = process.env.BENCH_HEAP_REPORT;

if (target) {
  const sample = () => {
    report.peakHeapUsedBytes = Math.max(report.peakHeapUsedBytes, getHeapStatistics().used_heap_size);
  };
  setInterval(sample, 100).unref();
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if ((entry as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MAJOR) continue;
      report.fullCollections += 1;
      report.peakHeapAfterFullGcBytes = Math.max(report.peakHeapAfterFullGcBytes, getHeapStatistics().used_heap_size);
    }
  });
  observer.observe({ entryTypes: ["gc"] });
  process.once("exit", () => {
    sample();
    writeFileSync(target, JSON.stringify(report));
  });
}
