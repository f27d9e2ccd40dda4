/**
 * Sets an own, enumerable property, whatever its name: a plain assignment of `__proto__` would set
 * the object's prototype instead (and lose the value). Users' property names come from Graph and
 * from stored columns, so any name may arrive.
 */
export function setOwnProperty(target: Record<string, unknown>, name: string, value: unknown): void {
  // Every other inherited name of a plain object is a writable data property: assigning it makes
  // an own property, and keeps the object's fast (shared) shape, which defineProperty does not.
  if (name === "__proto__") Object.defineProperty(target, name, { value, enumerable: true, writable: true, configurable: true });
  else target[name] = value;
}
