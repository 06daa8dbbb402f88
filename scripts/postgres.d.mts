export interface PostgresServer {
  port: number;
  /** A URL for a new database of its own (each test file makes its own). */
  createDatabase(name: string): Promise<string>;
  stop(): void;
  start(): void;
  close(): void;
}

export function startPostgres(opts?: { tls?: { cert: string; key: string } }): Promise<PostgresServer>;
