import { RestError } from "@azure/core-rest-pipeline";
import { describe, expect, it } from "vitest";
import { failedOperationIndex, FENCE_ROW_KEY, isFenceRow } from "../../src/tables/partitionFence.js";

describe("partition fences", () => {
  it("reads which operation of a transaction the service refused", () => {
    expect(failedOperationIndex(new RestError("3:The update condition specified in the request was not satisfied.\nRequestId:x", { statusCode: 412 }))).toBe(3);
    expect(failedOperationIndex(new RestError("The specified resource does not exist.", { statusCode: 404 }))).toBeUndefined();
  });

  it("keeps its fence row out of every user listing: its RowKey is one no user can have", () => {
    expect(FENCE_ROW_KEY).toBe("");
    expect(isFenceRow({ rowKey: "" })).toBe(true);
    expect(isFenceRow({ rowKey: "00000000-0000-0000-0000-000000000000" })).toBe(false);
  });
});
