/**
 * The part of the `pg` driver (node-postgres 8) the adapter uses, typed here because the project
 * carries no @types/pg. Ambient module declarations win over node_modules, so if @types/pg is
 * ever added this file must go.
 */
declare module "pg" {
  export interface ClientConfig {
    host?: string;
    port?: number;
    user?: string;
    password?: string;
    database?: string;
    application_name?: string;
    connectionTimeoutMillis?: number;
    /** Server side, sent at connection start. */
    statement_timeout?: number;
    /** Client side: the query's promise rejects after this many ms. */
    query_timeout?: number;
  }

  export interface QueryResult<R> {
    rows: R[];
    rowCount: number | null;
  }

  export class Client {
    constructor(config: ClientConfig);
    connect(): Promise<void>;
    query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<QueryResult<R>>;
    end(): Promise<void>;
    on(event: "error", listener: (error: Error) => void): this;
  }

  const pg: { Client: typeof Client };
  export default pg;
}
