/**
 * Ids interned as consecutive integers (0, 1, 2, … in order of first sight): each distinct id is
 * held once (one string in an array, plus its Map entry), and whatever a graph keeps per id or per
 * edge is an integer into it (membershipClosure.ts, managerChain.ts).
 */
export class IdInterner {
  readonly #ids: string[] = [];
  readonly #indexOf = new Map<string, number>();

  /** How many distinct ids are held (the next id's index). */
  get size(): number {
    return this.#ids.length;
  }

  /** The index of `id`, or undefined when it was never interned. */
  indexOf(id: string): number | undefined {
    return this.#indexOf.get(id);
  }

  /** The index of `id`; a new id gets the next index (`size` before the call). */
  intern(id: string): number {
    const known = this.#indexOf.get(id);
    if (known !== undefined) return known;
    const index = this.#ids.length;
    this.#ids.push(id);
    this.#indexOf.set(id, index);
    return index;
  }

  /** The id interned at `index`. */
  idAt(index: number): string {
    return this.#ids[index]!;
  }
}
