/**
 * A repository interface with every method returning a Promise: what the PostgreSQL repos
 * implement. The SQLite interfaces are being made async in parallel; once they are, this maps
 * them onto themselves and can go.
 */
export type Async<T> = { [K in keyof T]: T[K] extends (...a: infer A) => infer R ? (...a: A) => Promise<Awaited<R>> : T[K] };
