// tenantgate store migrate | copy: the schema brought up to date, and a SQLite store moved into PostgreSQL.
import type { Command } from 'commander';
import type { Config } from '../core/config.js';
import { ConfigError } from '../core/config.js';
import { openDatabase } from '../store/database.js';
import { migrations } from '../store/migrations.js';

type ConfigLoader = (opts: { config?: string }) => Config;

export function registerStoreCommands(program: Command, configFrom: ConfigLoader): void {
  const store = program.command('store').description('the store: schema migrations, and moving a SQLite store into PostgreSQL');
  store
    .command('migrate')
    .description('apply the schema migrations to the configured store (servers do it at start-up unless store.migrate is false)')
    .option('-c, --config <file>', 'config file (default: tenantgate.yaml if present)')
    .action(async (o: { config?: string }) => {
      const config = configFrom(o);
      if (!config.store.url) {
        openDatabase(config.store.path).close();
        process.stdout.write(`store ${config.store.path}: schema at version ${migrations.length}\n`);
        return;
      }
      const { openPool, migratePg } = await import('../store/pg/connect.js');
      const pool = openPool(config.store);
      try {
        const { from, to } = await migratePg(pool, true);
        process.stdout.write(from === to ? `store: schema at version ${to}, nothing to do\n` : `store: schema migrated from version ${from} to ${to}\n`);
      } finally {
        await pool.end();
      }
    });
  store
    .command('copy')
    .description('copy a SQLite store into an empty PostgreSQL store, every table in one transaction')
    .requiredOption('--from <file>', 'the SQLite store (store.path)')
    .requiredOption('--to <url>', 'the PostgreSQL store (postgres://...; the password as store.password_env or store.password_file say)')
    .option('-c, --config <file>', 'config file (for the password and TLS settings of the target)')
    .action(async (o: { from: string; to: string; config?: string }) => {
      if (!/^postgres(ql)?:\/\//.test(o.to)) throw new ConfigError('--to must be a postgres:// URL');
      const config = configFrom(o);
      const db = openDatabase(o.from);
      const { openPool, migratePg } = await import('../store/pg/connect.js');
      const { copySqliteToPg } = await import('../store/pg/copy.js');
      const pool = openPool({ ...config.store, url: o.to });
      try {
        await migratePg(pool, true);
        const counts = await copySqliteToPg(db, pool);
        process.stdout.write(`copied ${Object.entries(counts).map(([t, n]) => `${n} ${t}`).join(', ')}\n`);
      } finally {
        db.close();
        await pool.end();
      }
    });
}
