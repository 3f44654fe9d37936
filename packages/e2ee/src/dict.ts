/**
 * An empty object without a prototype, for maps keyed by client-chosen strings (device IDs, room IDs,
 * session IDs): a key such as `__proto__` is then an ordinary entry, not the object's prototype.
 */
export function dict<T>(): Record<string, T> {
  return Object.create(null) as Record<string, T>;
}
