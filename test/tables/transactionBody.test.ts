/**
 * A transaction sent directly (src/tables/directTransactions.ts) is the request the SDK's
 * `TableClient.submitTransaction` sends, byte for byte: the same URL, headers and body for every
 * action kind, key escaping and value type (the batch and changeset ids aside, which are random in
 * both), and its answer is read the same way (results, and the same RestError on a failure).
 * Both go through the same pipeline into an HTTP client that records the request and answers it.
 */
import { AzureNamedKeyCredential, TableClient, type TableEntity, type TransactionAction } from "@azure/data-tables";
import { createHttpHeaders, isRestError, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { describe, expect, it, vi } from "vitest";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { parseTransactionResponse, useDirectTransactions } from "../../src/tables/directTransactions.js";
import { entityJson, transactionBody, transactionTarget } from "../../src/tables/transactionBody.js";
import { encodeUserEntity } from "../../src/tables/userEntity.js";
import { createSimulatedDirectory, SIMULATED_USER_PROPERTIES } from "../../tools/simulated-tenant/users.js";

const ACCOUNT_KEY = Buffer.from("not a real key, only signs requests nobody checks").toString("base64");

interface Recorded {
  method: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

/** An HTTP client that records each request and answers with `answer(request)`. */
function recordingClient(answer: (request: PipelineRequest) => { status: number; body: string }): { client: HttpClient; requests: Recorded[] } {
  const requests: Recorded[] = [];
  const client: HttpClient = {
    sendRequest(request: PipelineRequest): Promise<PipelineResponse> {
      const body = typeof request.body === "string" ? request.body : Buffer.isBuffer(request.body) ? request.body.toString("utf8") : "";
      requests.push({ method: request.method, url: request.url, headers: request.headers.toJSON({ preserveCase: true }), body });
      const { status, body: text } = answer(request);
      const headers = createHttpHeaders(text.startsWith("--batchresponse_") ? { "Content-Type": `multipart/mixed; boundary=${text.slice(2, text.indexOf("\r\n"))}` } : { "Content-Type": "text/plain" });
      return Promise.resolve({ request, status, headers, bodyAsText: text });
    },
  };
  return { client, requests };
}

const DEFAULT_URL = "http://127.0.0.1:10002/devstoreaccount1";
const DEFAULT_TABLE = "users0x";

function tableClient(httpClient: HttpClient, url = DEFAULT_URL, tableName = DEFAULT_TABLE): TableClient {
  return new TableClient(url, tableName, new AzureNamedKeyCredential("devstoreaccount1", ACCOUNT_KEY), { httpClient, allowInsecureConnection: true, retryOptions: { maxRetries: 0 } });
}

/** The request with its random parts (batch and changeset ids, request id, date, signature) replaced by their names. */
function normalized(request: Recorded): Recorded {
  const batch = /batch_([0-9a-f-]{36})/.exec(request.body)?.[1];
  const changeset = /changeset_([0-9a-f-]{36})/.exec(request.body)?.[1];
  const swap = (text: string) => text.split(batch ?? "\u0000").join("<batch>").split(changeset ?? "\u0000").join("<changeset>");
  const headers = Object.fromEntries(
    Object.entries(request.headers).map(([name, value]) => [name, ["x-ms-client-request-id", "x-ms-date", "authorization", "date"].includes(name.toLowerCase()) ? `<${name}>` : swap(value)]),
  );
  return { method: request.method, url: request.url, headers, body: swap(request.body) };
}

/**
 * Sends `actions` through the SDK's method and through the direct one; returns both requests.
 * `viaSdk`: the direct client is expected to hand them to the SDK's method (what it does not build).
 */
async function bothRequests(actions: TransactionAction[], url?: string, tableName?: string, viaSdk = false): Promise<[Recorded, Recorded]> {
  const answer = () => ({ status: 202, body: "" });
  const sdk = recordingClient(answer);
  const direct = recordingClient(answer);
  await tableClient(sdk.client, url, tableName).submitTransaction(actions);
  const sdkMethod = vi.spyOn(TableClient.prototype, "submitTransaction");
  try {
    await useDirectTransactions(tableClient(direct.client, url, tableName), { httpClient: direct.client, allowInsecureConnection: true }).submitTransaction(actions);
    expect(sdkMethod).toHaveBeenCalledTimes(viaSdk ? 1 : 0);
  } finally {
    sdkMethod.mockRestore();
  }
  expect(sdk.requests).toHaveLength(1);
  expect(direct.requests).toHaveLength(1);
  if (!viaSdk) {
    // The builder alone, given the SDK's ids, writes the SDK's body.
    const body = sdk.requests[0]!.body;
    const ids = [/--batch_([0-9a-f-]{36})/.exec(body)![1]!, /boundary=changeset_([0-9a-f-]{36})/.exec(body)![1]!] as const;
    expect(transactionBody(transactionTarget(url ?? DEFAULT_URL, tableName ?? DEFAULT_TABLE)!, actions, ...ids)).toBe(body);
  }
  return [normalized(sdk.requests[0]!), normalized(direct.requests[0]!)];
}

/** Keys that need escaping in a URL or in OData, and text in several scripts. */
const AWKWARD_KEYS = ["plain", "it's", "a b", "100%", "a+b=c&d", "(x)!*~.", "é", "名前", "😀 smile", "''", "semi;colon,comma", "tab\there", "ü'ü", "a/b", "q?#"];

describe("a transaction sent directly", () => {
  it("is the SDK's request byte for byte for the product's user entities, snapshot and mirror alike", async () => {
    const directory = createSimulatedDirectory({ userCount: 200, seed: 7, domain: "contoso.example" });
    const users = Array.from({ length: 200 }, (_, i) => encodeUserEntity(directory.userAt(i, SIMULATED_USER_PROPERTIES), "snap-00"));
    for (let at = 0; at < users.length; at += 100) {
      const replace: TransactionAction[] = users.slice(at, at + 100).map((entity) => ["upsert", entity, "Replace"]);
      const [sdk, direct] = await bothRequests(replace);
      expect(direct).toEqual(sdk);
      expect(direct.body.length).toBeGreaterThan(10_000);
    }
    const merge: TransactionAction[] = users.slice(0, 50).map((entity) => ["upsert", entity, "Merge"]);
    const [sdk, direct] = await bothRequests(merge);
    expect(direct).toEqual(sdk);
  });

  it("is the SDK's request for every action kind, with the fence row's update, and for awkward keys", async () => {
    for (const partitionKey of AWKWARD_KEYS) {
      const actions: TransactionAction[] = [
        ...AWKWARD_KEYS.map((rowKey): TransactionAction => ["upsert", { partitionKey, rowKey, name: rowKey, n: 1 }, "Replace"]),
        ["upsert", { partitionKey, rowKey: "merge", a: "x" }, "Merge"],
        ["upsert", { partitionKey, rowKey: "default mode", a: "x" }],
        ["create", { partitionKey, rowKey: "created", a: "x" }],
        ["delete", { partitionKey, rowKey: "deleted" }],
        ["delete", { partitionKey, rowKey: "deleted with etag", etag: 'W/"x"' }],
        ["update", { partitionKey, rowKey: "updated", a: 1 }, "Replace", { etag: `W/"datetime'2026-12-07T10%3A00%3A00.1Z'"` }],
        ["update", { partitionKey, rowKey: "merged", a: 1 }, "Merge"],
        ["update", { partitionKey, rowKey: "", kind: "fence", owner: "o", writeId: "w", at: new Date("2026-12-07T10:00:00.123Z") }, "Replace", { etag: 'W/"1"' }],
      ];
      const [sdk, direct] = await bothRequests(actions);
      expect(direct).toEqual(sdk);
    }
  });

  it("is the SDK's request for every value type the SDK encodes, and for names it renames", async () => {
    const entity = {
      partitionKey: "p",
      rowKey: "r",
      text: "x\u0000\u2028\"\\<>&",
      empty: "",
      int: 2147483647,
      negative: -5,
      fraction: 0.1,
      yes: true,
      no: false,
      nothing: null,
      missing: undefined,
      double: { value: 1.5, type: "Double" },
      doubleText: { value: "NaN", type: "Double" },
      int64: { value: "9007199254740993", type: "Int64" },
      big: 9007199254740993n,
      guid: { value: "a4a8b4d1-0000-0000-0000-000000000001", type: "Guid" },
      typedString: { value: "s", type: "String" },
      typedBoolean: { value: "true", type: "Boolean" },
      typedInt: { value: "7", type: "Int32" },
      typedNull: { value: null, type: "String" },
      when: new Date("2026-12-07T10:00:00.000Z"),
      typedDate: { value: "2026-12-07T10:00:00.0000001Z", type: "DateTime" },
      etag: "W/\"e\"",
      timestamp: "2026-12-07",
      PartitionKey: "shadow",
    };
    const [sdk, direct] = await bothRequests([["upsert", entity, "Replace"], ["upsert", { ...entity, rowKey: "m" }, "Merge"], ["create", { ...entity, rowKey: "c" }]]);
    expect(direct).toEqual(sdk);
  });

  it("is the SDK's request for names an object treats specially: inherited, array indexes, wire names, annotations", async () => {
    const names = ["constructor", "toString", "hasOwnProperty", "__proto__", "5", "10", "0x", "PartitionKey", "a@odata.type", "odata.etag", "Timestamp"];
    for (const name of names) {
      const typed = JSON.parse(`{"partitionKey":"p","rowKey":"r","a":{"value":1,"type":"Double"},${JSON.stringify(name)}:{"value":"2","type":"Int64"},"z":1}`) as TableEntity<Record<string, unknown>>;
      const annotated = JSON.parse(`{"partitionKey":"p","rowKey":"r1","a":{"value":1,"type":"Double"},${JSON.stringify(name)}:"v","a@odata.type":"x"}`) as TableEntity<Record<string, unknown>>;
      const plain = JSON.parse(`{"partitionKey":"p","rowKey":"r2","first":1,${JSON.stringify(name)}:"v","last":true}`) as TableEntity<Record<string, unknown>>;
      const [sdk, direct] = await bothRequests([["upsert", typed, "Replace"], ["upsert", annotated, "Replace"], ["upsert", plain, "Merge"], ["create", { ...plain, rowKey: "c" }]]);
      expect(direct).toEqual(sdk);
    }
    // An object puts array-index names first: a typed one's annotation comes after every index.
    const indexes = { partitionKey: "p", rowKey: "r3", 5: { value: "1", type: "Int64" }, 10: 1, b: 2 };
    const [sdk, direct] = await bothRequests([["upsert", indexes, "Replace"]]);
    expect(direct).toEqual(sdk);
  });

  it("is the SDK's request for an account URL with a trailing slash, a path, an identity endpoint and other table names", async () => {
    for (const [url, table] of [
      ["http://127.0.0.1:10002/devstoreaccount1/", "t1"],
      ["https://account.table.core.windows.net", "Users2024"],
      ["https://account.table.core.windows.net/", "u"],
      ["HTTPS://Account.Table.Core.Windows.Net:443", "mixedCase"],
    ] as const) {
      const [sdk, direct] = await bothRequests([["upsert", { partitionKey: "p q", rowKey: "it's", a: 1 }, "Replace"], ["delete", { partitionKey: "p q", rowKey: "d" }]], url, table);
      expect(direct).toEqual(sdk);
    }
  });

  it("leaves to the SDK what it does not build: bytes, unknown types, a SAS in the URL, mixed partitions", async () => {
    expect(entityJson({ partitionKey: "p", rowKey: "r", bytes: new Uint8Array([1, 2]) })).toBeUndefined();
    expect(entityJson({ partitionKey: "p", rowKey: "r", odd: { value: 1, type: "Decimal" } })).toBeUndefined();
    expect(entityJson({ partitionKey: "p", rowKey: "r", list: [1] })).toBeUndefined();
    expect(transactionTarget("https://a.table.core.windows.net?sv=1&sig=x", "t")).toBeUndefined();
    const target = transactionTarget("http://127.0.0.1:10002/devstoreaccount1", "t")!;
    expect(transactionBody(target, [["upsert", { partitionKey: "p", rowKey: "r", bytes: new Uint8Array([1]) }]], "b", "c")).toBeUndefined();
    // The SDK's own path, with its own result: the bytes as Edm.Binary.
    const [sdk, direct] = await bothRequests([["upsert", { partitionKey: "p", rowKey: "r", bytes: new Uint8Array([1, 2]) }, "Replace"]], undefined, undefined, true);
    expect(direct).toEqual(sdk);
    expect(direct.body).toContain('"bytes@odata.type":"Edm.Binary"');
    // Mixed partitions: the SDK's own refusal.
    const { client } = recordingClient(() => ({ status: 202, body: "" }));
    const mixed: TransactionAction[] = [["upsert", { partitionKey: "a", rowKey: "1" }], ["upsert", { partitionKey: "b", rowKey: "2" }]];
    await expect(useDirectTransactions(tableClient(client), { httpClient: client }).submitTransaction(mixed)).rejects.toThrow("All operations in a transaction must target the same partitionKey");
  });
});

const CHANGESET_ANSWER = (parts: string[]) =>
  ["--batchresponse_1\r\nContent-Type: multipart/mixed; boundary=changesetresponse_2\r\n\r\n", ...parts.map((p) => `--changesetresponse_2\r\nContent-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n\r\n${p}\r\n`), "--changesetresponse_2--\r\n--batchresponse_1--\r\n"].join("");

describe("a direct transaction's answer", () => {
  const ok = (rowKey: string, etag: string) => `HTTP/1.1 204 No Content\r\nX-Content-Type-Options: nosniff\r\nCache-Control: no-cache\r\nDataServiceVersion: 1.0;\r\nLocation: http://127.0.0.1/t(PartitionKey='p',RowKey='${rowKey}')\r\nETag: ${etag}\r\n`;
  const failed = `HTTP/1.1 412 Precondition Failed\r\nContent-Type: application/json;odata=minimalmetadata;streaming=true;charset=utf-8\r\n\r\n{"odata.error":{"code":"UpdateConditionNotSatisfied","message":{"lang":"en-US","value":"1:The update condition specified in the request was not satisfied.\\nRequestId:x"}}}`;
  const actions: TransactionAction[] = [["upsert", { partitionKey: "p", rowKey: "a" }, "Replace"], ["update", { partitionKey: "p", rowKey: "", x: 1 }, "Replace", { etag: 'W/"1"' }]];

  async function outcomes(status: number, body: string) {
    const answer = () => ({ status, body });
    const settle = (promise: Promise<unknown>) =>
      promise.then(
        (value) => ({ value: JSON.parse(JSON.stringify(value)) as unknown }),
        (error: unknown) => ({ error: isRestError(error) ? { name: error.name, message: error.message, code: error.code, statusCode: error.statusCode } : String(error) }),
      );
    const sdk = recordingClient(answer);
    const direct = recordingClient(answer);
    return [await settle(tableClient(sdk.client).submitTransaction(actions)), await settle(useDirectTransactions(tableClient(direct.client), { httpClient: direct.client }).submitTransaction(actions))];
  }

  it("reads a success as the SDK does: each operation's status, RowKey and ETag", async () => {
    const [sdk, direct] = await outcomes(202, CHANGESET_ANSWER([ok("a", 'W/"2"'), ok("", 'W/"3"')]));
    expect(direct).toEqual(sdk);
    expect(direct).toEqual({ value: { status: 202, subResponses: [{ status: 204, rowKey: "a", etag: 'W/"2"' }, { status: 204, rowKey: "", etag: 'W/"3"' }] } });
    const response = parseTransactionResponse({ status: 202, bodyAsText: CHANGESET_ANSWER([ok("a", 'W/"2"')]), headers: createHttpHeaders(), request: {} as PipelineRequest });
    expect(response.getResponseForEntity("a")?.etag).toBe('W/"2"');
  });

  it("keeps no answer alive through the ETags and RowKeys it returns (a fence keeps its partition's ETag for the whole run)", () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    // 100 answers of 1 MiB each (their own text, as each response body is), only the ETags kept.
    const padding = (i: number) => `X-Padding: ${String(i).repeat(1)}${"x".repeat(1024 * 1024)}\r\n`;
    gc();
    const before = process.memoryUsage().heapUsed;
    const kept: string[] = [];
    for (let i = 0; i < 100; i += 1) {
      const response = parseTransactionResponse({ status: 202, bodyAsText: CHANGESET_ANSWER([padding(i) + ok(`r${i}-0000000000000000`, `W/"datetime'2026-12-07T16%3A00%3A00.${String(i).padStart(7, "0")}Z'"`)]), headers: createHttpHeaders(), request: {} as PipelineRequest });
      kept.push(response.subResponses[0]!.etag!, response.subResponses[0]!.rowKey!);
    }
    gc();
    const retainedMib = (process.memoryUsage().heapUsed - before) / 1024 / 1024;
    expect(kept[0]).toBe(`W/"datetime'2026-12-07T16%3A00%3A00.0000000Z'"`);
    expect(kept[1]).toBe("r0-0000000000000000");
    expect(retainedMib).toBeLessThan(20);
  });

  it("throws the SDK's RestError for a refused operation (the fence's 412, with its index) and for a refused request", async () => {
    const [sdk, direct] = await outcomes(202, CHANGESET_ANSWER([failed]));
    expect(direct).toEqual(sdk);
    expect(direct).toMatchObject({ error: { name: "RestError", code: "UpdateConditionNotSatisfied", statusCode: 412, message: expect.stringMatching(/^1:The update condition/) } });
    const [sdk400, direct400] = await outcomes(400, "not json");
    expect(direct400).toEqual(sdk400);
    expect(direct400).toMatchObject({ error: { message: "Transaction Failed", statusCode: 400 } });
  });
});
