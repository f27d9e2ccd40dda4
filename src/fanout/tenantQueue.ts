/**
 * The tenant queue: one message per tenant with work due (and one per continuation of a paused
 * run), and its poison queue `<queue>-poison`, in the style of the Functions host's queue trigger:
 * messages are base64-encoded JSON (host.json `extensions.queues.messageEncoding` "base64").
 */
import type { TokenCredential } from "@azure/identity";
import { QueueClient, type DequeuedMessageItem, type StoragePipelineOptions } from "@azure/storage-queue";
import { STORAGE_DEFAULTS } from "../configuration/defaults.js";
import type { TenantQueueSettings } from "../configuration/queueSettings.js";
import { UserSyncError } from "../shared/errors.js";
import { isAbortError, type OperationOptions } from "../shared/abort.js";
import { STORAGE_REQUEST_TIMEOUT_CODE, storageRequestTimeoutPolicy } from "../tables/requestTimeoutPolicy.js";
import { assertTenantGuid } from "../tenants/tenantId.js";
import type { TenantRecord } from "../tenants/tenantRegistryClient.js";
import { parseCarriedRow } from "./carriedRow.js";

/** The queue the scheduler fills and `tenantSync` / `worker` drain. */
export const TENANT_QUEUE_NAME = "entra-user-sync-tenants";
/** Where a message goes after MAX_DEQUEUE_COUNT failed attempts (the Functions host's naming). */
export const POISON_QUEUE_NAME = `${TENANT_QUEUE_NAME}-poison`;
/** host.json `extensions.queues.maxDequeueCount`; the worker applies the same (a test compares them). */
export const MAX_DEQUEUE_COUNT = 5;
/** The most messages one receive brings (the queue service's limit). */
export const MAX_MESSAGES_PER_RECEIVE = 32;

export interface TenantSyncMessage {
  tenantId: string;
  /** "due": the scheduler's tick; "continuation": a run paused at USER_SYNC_MAX_RUN_MINUTES. */
  kind: "due" | "continuation";
  enqueuedAt: string;
  /**
   * Set on a message queued again to wait for another run's writer lease (src/fanout/heldLease.ts):
   * that lease's expiry when the message was deferred. Such a message is never completed as skipped.
   */
  waitsForLeaseUntil?: string;
  /**
   * The tenant's registry row as the scheduler's marker wrote it, with that write's ETag
   * (src/fanout/carriedRow.ts): the message's first run starts from it instead of reading the row.
   */
  row?: TenantRecord;
}

export interface TenantQueueClientOptions {
  queue: TenantQueueSettings;
  /** Required for an identity-based connection. */
  credential?: TokenCredential;
  /** Passed to the SDK (retry options...). */
  clientOptions?: StoragePipelineOptions;
}

export interface SendTenantMessageOptions extends OperationOptions {
  /** The message stays invisible this long (a continuation's delay). Default 0. */
  visibilityTimeoutInSeconds?: number;
}

export interface ReceivedTenantMessage {
  messageId: string;
  popReceipt: string;
  dequeueCount: number;
  /** The message's text as stored (base64), for moving it to the poison queue unchanged. */
  messageText: string;
  /** Undefined when the text is not a tenant message (it is poisoned at once). */
  message: TenantSyncMessage | undefined;
}

/**
 * A QueueClient whose every attempt is bounded. The storage SDK's own `tryTimeoutInMs` is only the
 * server-side `timeout` parameter: a connection that never answers is never abandoned by the client.
 * So the per-attempt bound the table clients use (`storageRequestTimeoutPolicy`) goes after the
 * SDK's retry policy, in the client's pipeline (its options take no extra policies; the pipeline is
 * reached through the `protected` storageClientContext, hence the subclass), and a timed-out
 * attempt (RestError ETIMEDOUT) is retried by that policy. test/fanout/tenantQueue.test.ts holds it.
 */
class AttemptBoundQueueClient extends QueueClient {
  boundEachAttempt(timeoutInMs: number): this {
    this.storageClientContext.queuesClient.pipeline.addPolicy(storageRequestTimeoutPolicy(timeoutInMs), { afterPhase: "Retry" });
    return this;
  }
}

export class TenantQueueClient {
  readonly queue: QueueClient;
  readonly poison: QueueClient;
  readonly #timeoutInMs: number;

  constructor(options: TenantQueueClientOptions) {
    this.#timeoutInMs = options.queue.requestTimeoutInMs ?? STORAGE_DEFAULTS.requestTimeoutSeconds * 1000;
    const make = (name: string): QueueClient => {
      // A fresh options object per client: the SDK writes its defaults into the one it is given.
      const clientOptions: StoragePipelineOptions = { ...options.clientOptions, ...(options.clientOptions?.retryOptions ? { retryOptions: { ...options.clientOptions.retryOptions } } : {}) };
      if (options.queue.kind === "connectionString") return new AttemptBoundQueueClient(options.queue.connectionString, name, clientOptions).boundEachAttempt(this.#timeoutInMs);
      if (!options.credential) throw new UserSyncError("no_azure_credential", "An identity-based tenant queue (USER_SYNC_QUEUE__queueServiceUri) needs a credential.");
      return new AttemptBoundQueueClient(`${options.queue.queueServiceUri}/${name}`, options.credential, clientOptions).boundEachAttempt(this.#timeoutInMs);
    };
    this.queue = make(TENANT_QUEUE_NAME);
    this.poison = make(POISON_QUEUE_NAME);
  }

  async createQueuesIfNotExist(options: OperationOptions = {}): Promise<void> {
    await this.#call("creating the tenant queues", () =>
      Promise.all([this.queue.createIfNotExists({ abortSignal: options.abortSignal }), this.poison.createIfNotExists({ abortSignal: options.abortSignal })]),
    );
  }

  async sendTenantMessage(message: TenantSyncMessage, options: SendTenantMessageOptions = {}): Promise<string> {
    const text = encodeTenantMessage(message);
    const response = await this.#call(`enqueuing tenant ${message.tenantId}`, () =>
      this.queue.sendMessage(text, { abortSignal: options.abortSignal, ...(options.visibilityTimeoutInSeconds ? { visibilityTimeout: options.visibilityTimeoutInSeconds } : {}) }),
    );
    return response.messageId;
  }

  /** Up to `count` (1–32) messages, each invisible to others for `visibilityTimeoutInSeconds`. */
  async receiveTenantMessages(count: number, visibilityTimeoutInSeconds: number, options: OperationOptions = {}): Promise<ReceivedTenantMessage[]> {
    const response = await this.#call("receiving tenant messages", () =>
      this.queue.receiveMessages({ numberOfMessages: Math.min(MAX_MESSAGES_PER_RECEIVE, Math.max(1, count)), visibilityTimeout: visibilityTimeoutInSeconds, abortSignal: options.abortSignal }),
    );
    return response.receivedMessageItems.map(toReceived);
  }

  /** Keeps a message invisible for another `visibilityTimeoutInSeconds` (a long run); returns the new pop receipt. */
  async extendVisibility(received: Pick<ReceivedTenantMessage, "messageId" | "popReceipt">, visibilityTimeoutInSeconds: number, options: OperationOptions = {}): Promise<string> {
    const response = await this.#call("extending a tenant message's visibility timeout", () =>
      this.queue.updateMessage(received.messageId, received.popReceipt, undefined, visibilityTimeoutInSeconds, { abortSignal: options.abortSignal }),
    );
    return response.popReceipt ?? received.popReceipt;
  }

  async deleteTenantMessage(received: Pick<ReceivedTenantMessage, "messageId" | "popReceipt">, options: OperationOptions = {}): Promise<void> {
    await this.#call("deleting a tenant message", () => this.queue.deleteMessage(received.messageId, received.popReceipt, { abortSignal: options.abortSignal }));
  }

  /** Moves the message, unchanged, to `<queue>-poison` (as the Functions host does), then deletes it. */
  async moveToPoison(received: ReceivedTenantMessage, options: OperationOptions = {}): Promise<void> {
    await this.#call("moving a tenant message to the poison queue", () => this.poison.sendMessage(received.messageText, { abortSignal: options.abortSignal }));
    await this.deleteTenantMessage(received, options);
  }

  /** Messages in the queue, visible or not (approximate, as the service counts them). */
  async approximateMessageCount(options: OperationOptions = {}): Promise<number> {
    const properties = await this.#call("reading the tenant queue's properties", () => this.queue.getProperties({ abortSignal: options.abortSignal }));
    return properties.approximateMessagesCount ?? 0;
  }

  /** Messages in the poison queue (approximate, as the service counts them). */
  async approximatePoisonMessageCount(options: OperationOptions = {}): Promise<number> {
    const properties = await this.#call("reading the poison queue's properties", () => this.poison.getProperties({ abortSignal: options.abortSignal }));
    return properties.approximateMessagesCount ?? 0;
  }

  async #call<T>(operation: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (error) {
      if (isAbortError(error)) throw error;
      const status = (error as { statusCode?: number }).statusCode;
      const code = (error as { code?: string }).code;
      const message =
        status === undefined && code === STORAGE_REQUEST_TIMEOUT_CODE
          ? `The queue at ${endpointOf(this.queue.url)} gave no complete answer within STORAGE_REQUEST_TIMEOUT_SECONDS (${this.#timeoutInMs / 1000} s), while ${operation}, on every attempt. Check the network path to it (proxy, firewall, the privatelink.queue private DNS zone and the account's queue private endpoint), or raise STORAGE_REQUEST_TIMEOUT_SECONDS.`
          : `Queue storage failed while ${operation} (${status ?? code ?? "error"}). Check USER_SYNC_QUEUE (or USER_SYNC_QUEUE__queueServiceUri and the identity's Storage Queue Data Contributor role).`;
      throw new UserSyncError("storage_request_failed", message, { cause: error, details: { queue: this.queue.name, statusCode: status, errorCode: code } });
    }
  }
}

/** The queue's URL without a query (a SAS connection string's signature never reaches a message). */
function endpointOf(url: string): string {
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`;
}

export function encodeTenantMessage(message: TenantSyncMessage): string {
  return Buffer.from(JSON.stringify(message), "utf8").toString("base64");
}

/** A tenant message from what the host or the queue hands over (base64 text, JSON text, or an object); undefined if it is none. */
export function parseTenantMessage(value: unknown): TenantSyncMessage | undefined {
  let candidate: unknown = value;
  if (typeof value === "string") {
    const text = value.trim().startsWith("{") ? value : Buffer.from(value, "base64").toString("utf8");
    try {
      candidate = JSON.parse(text);
    } catch {
      return undefined;
    }
  }
  if (typeof candidate !== "object" || candidate === null) return undefined;
  const { tenantId, kind, enqueuedAt, waitsForLeaseUntil, row } = candidate as Record<string, unknown>;
  if (typeof tenantId !== "string" || (kind !== "due" && kind !== "continuation")) return undefined;
  try {
    const id = assertTenantGuid(tenantId);
    // A row that is not this tenant's (or has no ETag) is ignored: the run reads the row instead.
    const carried = parseCarriedRow(row, id);
    return {
      tenantId: id,
      kind,
      enqueuedAt: typeof enqueuedAt === "string" ? enqueuedAt : "",
      ...(typeof waitsForLeaseUntil === "string" ? { waitsForLeaseUntil } : {}),
      ...(carried ? { row: carried } : {}),
    };
  } catch {
    return undefined;
  }
}

function toReceived(item: DequeuedMessageItem): ReceivedTenantMessage {
  return { messageId: item.messageId, popReceipt: item.popReceipt, dequeueCount: item.dequeueCount, messageText: item.messageText, message: parseTenantMessage(item.messageText) };
}
