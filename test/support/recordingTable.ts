/**
 * A table client that records what is sent to it and answers every write with a fresh ETag (e1,
 * e2, …), for the fences' tests: a claim is `upsert <mode> <partition>/<row>`, a transaction
 * `transaction <operations> (fence: <the fence row's operation>[ if-match <etag>])`, or
 * `transaction <operations>` when its last operation is not a fence row's.
 */
import type { TableClient, TransactionAction } from "@azure/data-tables";

export function recordingTable(): { sent: string[]; table: TableClient } {
  const sent: string[] = [];
  let etag = 0;
  const table = {
    tableName: "fenced",
    upsertEntity: async (entity: { partitionKey: string; rowKey: string }, mode: string) => {
      sent.push(`upsert ${mode} ${entity.partitionKey}/${entity.rowKey}`);
      return { etag: `e${++etag}` };
    },
    submitTransaction: async (actions: TransactionAction[]) => {
      const last = actions.at(-1)!;
      const fenced = (last[1] as { rowKey?: string }).rowKey === "";
      sent.push(`transaction ${actions.length}${fenced ? ` (fence: ${last[0]}${last[3] ? ` if-match ${(last[3] as { etag: string }).etag}` : ""})` : ""}`);
      return { subResponses: actions.map(() => ({ etag: `e${++etag}` })) };
    },
    getEntity: async () => {
      throw new Error("not read in these cases");
    },
  };
  return { sent, table: table as unknown as TableClient };
}
