/** Where a process finds its Postgres: a server the operator runs, or the embedded one under the data dir. */
export type DatabaseSettings =
  | { readonly kind: 'embedded'; readonly dataDir: string }
  | {
      readonly kind: 'postgres';
      /** A hostname, or a directory holding the server's unix socket. */
      readonly host: string;
      readonly port: number;
      readonly user: string;
      readonly password?: string;
      readonly database: string;
      readonly poolMin?: number;
      readonly poolMax?: number;
    };

/** A resolved connection target (the embedded server resolves to one of these once started). */
export interface ConnectionTarget {
  readonly host: string;
  readonly port: number;
  readonly user: string;
  readonly password?: string;
  readonly database: string;
}
