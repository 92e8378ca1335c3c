/** Account id → value, as a Map or a plain object (the forms adapters accept for per-account settings). */
export type PerAccount<T> = ReadonlyMap<string, T> | Readonly<Record<string, T>>;

/** The account's entry; own properties only, so an id like `constructor` never finds a prototype member. */
export function lookupAccount<T>(table: PerAccount<T>, accountId: string): T | undefined {
  if (table instanceof Map) return table.get(accountId);
  const record = table as Readonly<Record<string, T>>;
  return Object.hasOwn(record, accountId) ? record[accountId] : undefined;
}
