/**
 * Entity group transactions sent through the table client's own pipeline with a body built once
 * (transactionBody.ts), instead of through `TableClient.submitTransaction`, which builds a client
 * per transaction and runs every operation through it. The request is the SDK's: the same URL,
 * headers, body bytes, and the same pipeline (signing, retries, timeouts, the product's policies);
 * the answer is read as the SDK reads it, and a failure is the same RestError (status, code, the
 * failed operation's index in its message). One tracing span per transaction, named as the SDK
 * names it. Whatever this does not build is sent by the SDK's own method: a URL with a SAS in it,
 * a Cosmos DB endpoint, a value type not reproduced here.
 * docs/decisions.md, "Entity group transactions without the SDK's per-operation client".
 */
import { randomUUID } from "node:crypto";
import { createDefaultHttpClient, createHttpHeaders, createPipelineRequest, RestError, type HttpClient, type PipelineRequest, type PipelineResponse } from "@azure/core-rest-pipeline";
import { createTracingClient } from "@azure/core-tracing";
import type { TableClient, TableTransactionEntityResponse, TableTransactionResponse, TransactionAction } from "@azure/data-tables";
import { transactionBody, transactionTarget, type TransactionTarget } from "./transactionBody.js";

/** The SDK's tracing identity, so that a transaction's span reads as it did. */
const tracing = createTracingClient({ namespace: "Microsoft.Data.Tables", packageName: "@azure/data-tables", packageVersion: "13.3.2" });

type SubmitOptions = NonNullable<Parameters<TableClient["submitTransaction"]>[1]>;

/** One HTTP client for every table client built without one (the SDK shares its default the same way). */
let defaultHttpClient: HttpClient | undefined;

export interface DirectTransactionsOptions {
  /** The client's own HTTP client when it was given one (tests, proxies); else one shared default. */
  httpClient?: HttpClient | undefined;
  /** As given to the client (plain http for Azurite). */
  allowInsecureConnection?: boolean | undefined;
}

/**
 * The SDK's endpoint test (`isCosmosEndpoint`): a Cosmos DB table endpoint, whose merges the SDK
 * rewrites; those transactions stay with the SDK.
 */
function isCosmosEndpoint(url: string): boolean {
  const { hostname, pathname } = new URL(url);
  if (hostname.includes(".table.cosmosdb.") || hostname.includes(".table.cosmos.")) return true;
  if ((hostname === "localhost" || hostname === "127.0.0.1") && pathname.startsWith("/devstoreaccount1")) return false;
  const azuriteAccount = process.env.AZURITE_ACCOUNTS?.split(":")[0];
  if (azuriteAccount && hostname.includes(azuriteAccount)) return false;
  return hostname === "localhost";
}

/**
 * Makes `client.submitTransaction` send its transactions directly (see above). Every caller keeps
 * calling the SDK's method; the client is returned for chaining.
 */
export function useDirectTransactions(client: TableClient, options: DirectTransactionsOptions = {}): TableClient {
  const sdkSubmit = client.submitTransaction.bind(client);
  let target: TransactionTarget | null | undefined;
  const batchUrl = `${client.url.endsWith("/") ? client.url : `${client.url}/`}$batch`;
  client.submitTransaction = (actions: TransactionAction[], submitOptions: SubmitOptions = {}) => {
    target ??= isCosmosEndpoint(client.url) ? null : (transactionTarget(client.url, client.tableName) ?? null);
    const transactionId = randomUUID();
    const changesetId = randomUUID();
    const body = target && actions.length > 0 && samePartition(actions) ? transactionBody(target, actions, transactionId, changesetId) : undefined;
    if (body === undefined) return sdkSubmit(actions, submitOptions);
    return tracing.withSpan("TableTransaction.submitTransaction", submitOptions, async (updatedOptions) => {
      const request = createPipelineRequest({
        ...updatedOptions,
        url: batchUrl,
        method: "POST",
        body,
        headers: createHttpHeaders({
          accept: "application/json",
          "x-ms-version": "2019-02-02",
          DataServiceVersion: "3.0;",
          MaxDataServiceVersion: "3.0;NetFx",
          "Content-Type": `multipart/mixed; boundary=batch_${transactionId}`,
          "Accept-Charset": "UTF-8",
          Connection: "Keep-Alive",
        }),
        allowInsecureConnection: options.allowInsecureConnection ?? false,
      });
      const httpClient = options.httpClient ?? (defaultHttpClient ??= createDefaultHttpClient());
      return parseTransactionResponse(await client.pipeline.sendRequest(httpClient, request));
    });
  };
  return client;
}

/** The SDK refuses a transaction over several partitions (its own error): such a one is left to it. */
function samePartition(actions: readonly TransactionAction[]): boolean {
  const partitionKey = actions[0]![1].partitionKey;
  return actions.every((action) => action[1].partitionKey === partitionKey);
}

/**
 * The answer read as the SDK reads it (`parseTransactionResponse`): a failed transaction throws a
 * RestError with the service's code and message (which starts with the failed operation's index),
 * a successful one gives each operation's status, RowKey and ETag.
 */
export function parseTransactionResponse(response: PipelineResponse): TableTransactionResponse {
  const status = response.status;
  const rawBody = response.bodyAsText ?? "";
  if (status < 200 || status >= 300) throwBodyError(rawBody, status, response.request, response);
  const parts = rawBody.split("--changesetresponse_");
  // The first and the last pieces are the boundaries; the operations' answers are between them.
  const subResponses: TableTransactionEntityResponse[] = parts.slice(1, parts.length - 1).map((part) => {
    const statusMatch = /HTTP\/1.1 ([0-9]*)/.exec(part);
    if (statusMatch?.length !== 2) throw new Error(`Couldn't extract status from sub-response:\n ${part}`);
    const subStatus = Number.parseInt(statusMatch[1]!);
    if (!Number.isInteger(subStatus)) throw new Error(`Expected sub-response status to be an integer ${subStatus}`);
    const bodyMatch = /\{(.*)\}/.exec(part);
    if (bodyMatch?.length === 2) throwBodyError(bodyMatch[0], subStatus, response.request, response);
    const etagMatch = /ETag: (.*)/.exec(part);
    const rowKeyMatch = /RowKey='(.*)'/.exec(part);
    return {
      status: subStatus,
      ...(rowKeyMatch?.length === 2 && { rowKey: detached(rowKeyMatch[1]!) }),
      ...(etagMatch?.length === 2 && { etag: detached(etagMatch[1]!) }),
    };
  });
  return { status, subResponses, getResponseForEntity: (rowKey: string) => subResponses.find((r) => r.rowKey === rowKey) };
}

/**
 * A copy of a piece of the answer that does not keep the answer alive. V8 makes a substring (a
 * split part, a regular expression's match) a slice that points into the whole string: a fence's
 * ETag, kept per partition for the whole run, would otherwise hold that partition's last answer
 * (up to 100 operations' parts), about 1.4 KiB per partition: hundreds of MiB at the issue's
 * 1,000,000 memberships (docs/performance.md, "The groups round").
 */
function detached(text: string): string {
  return Buffer.from(text, "utf8").toString("utf8");
}

function throwBodyError(bodyAsText: string, statusCode: number, request: PipelineRequest, response: PipelineResponse): never {
  let parsed: { "odata.error"?: { code?: string; message?: { value?: string } } } | undefined;
  try {
    parsed = JSON.parse(bodyAsText) as typeof parsed;
  } catch {
    parsed = {};
  }
  const error = parsed?.["odata.error"];
  throw new RestError(error?.message?.value ?? "Transaction Failed", { code: error?.code, statusCode, request, response });
}
