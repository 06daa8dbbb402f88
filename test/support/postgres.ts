// A real PostgreSQL for the tests: scripts/postgres.mjs (shared with the bench).
export { startPostgres, type PostgresServer } from '../../scripts/postgres.mjs';
