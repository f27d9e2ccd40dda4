/**
 * What every store does with a table: read a query page by page (an absent table can mean "nothing
 * yet"), and send a set of transactions with bounded concurrency, stopping at the first failure.
 */
import type { TableClient, TableEntityResult } from "@azure/data-tables";
import type { TableStorageSettings } from "../configuration/settings.js";
import { storageError, storageErrorCode } from "./storageErrors.js";
import type { OperationOptions } from "../shared/abort.js";

/** Entities per page when reading. */
export const READ_PAGE_SIZE = 1000;

export interface QueryOptions extends OperationOptions {
  filter: string;
  /** Only these columns (keys are always returned). */
  select?: string[];
  /** Entities per page. Default READ_PAGE_SIZE. */
  pageSize?: number;
  /** An absent table reads as empty (nothing was written yet) instead of failing. */
  tableMayNotExist?: boolean;
  /** Called for each page read (for the store's statistics). */
  onPage?: (entities: number) => void;
}

export function isStatusCode(error: unknown, ...codes: number[]): boolean {
  const status = (error as { statusCode?: number } | null)?.statusCode;
  return status !== undefined && codes.includes(status);
}

/** The query's pages, one at a time; failures become the product's storage errors, naming `operation`. */
export async function* queryPages<T extends object = Record<string, unknown>>(
  table: TableClient,
  storage: TableStorageSettings,
  operation: string,
  options: QueryOptions,
): AsyncIterableIterator<Array<TableEntityResult<T>>> {
  const pages = table
    .listEntities<T>({
      queryOptions: { filter: options.filter, ...(options.select ? { select: options.select } : {}) },
      abortSignal: options.abortSignal,
    })
    .byPage({ maxPageSize: options.pageSize ?? READ_PAGE_SIZE });
  for (;;) {
    let next: IteratorResult<Array<TableEntityResult<T>>>;
    try {
      next = await pages.next();
    } catch (error) {
      if (options.tableMayNotExist && isStatusCode(error, 404) && storageErrorCode(error) === "TableNotFound") return;
      throw storageError(storage, table.tableName, operation, error);
    }
    if (next.done) return;
    options.onPage?.(next.value.length);
    yield next.value;
  }
}

/** The query's entities, one page in memory at a time. */
export async function* queryEntities<T extends object = Record<string, unknown>>(
  table: TableClient,
  storage: TableStorageSettings,
  operation: string,
  options: QueryOptions,
): AsyncIterableIterator<TableEntityResult<T>> {
  for await (const page of queryPages<T>(table, storage, operation, options)) yield* page;
}

/**
 * Runs `tasks` (each one request or a chain of them) with `limit` bounding how many run at once
 * (no bound by default: for tasks that take a slot of their own, such as fenced transactions).
 * After the first failure, tasks not yet started are skipped; it waits for those under way, then
 * throws that first failure. An aborted signal also stops new tasks from starting.
 */
export async function submitAll(
  tasks: ReadonlyArray<() => Promise<void>>,
  limit: <R>(task: () => Promise<R>) => Promise<R> = (task) => task(),
  abortSignal?: AbortSignal,
): Promise<void> {
  let failure: { error: unknown } | undefined;
  await Promise.all(
    tasks.map((task) =>
      limit(async () => {
        if (failure || abortSignal?.aborted) return;
        try {
          await task();
        } catch (error) {
          failure ??= { error };
        }
      }),
    ),
  );
  if (failure) throw failure.error;
  abortSignal?.throwIfAborted();
}
