/**
 * A k-way merge of sorted async streams into one sorted stream, holding one item (and whatever
 * page each stream buffers) per stream: a snapshot's partitions, each in RowKey order, read as one
 * stream in id order.
 */
export async function* mergeSorted<T>(streams: ReadonlyArray<AsyncIterator<T>>, compare: (a: T, b: T) => number): AsyncIterableIterator<T> {
  const heads = await Promise.all(streams.map((stream) => stream.next()));
  for (;;) {
    let min = -1;
    for (let i = 0; i < heads.length; i++) {
      const head = heads[i]!;
      if (head.done) continue;
      if (min < 0 || compare(head.value, (heads[min] as IteratorYieldResult<T>).value) < 0) min = i;
    }
    if (min < 0) return;
    yield (heads[min] as IteratorYieldResult<T>).value;
    heads[min] = await streams[min]!.next();
  }
}

/** Ascending by a string key, in code-unit order (as Table storage orders keys of ASCII ids). */
export function byKey<T>(key: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = key(a);
    const y = key(b);
    return x < y ? -1 : x > y ? 1 : 0;
  };
}
