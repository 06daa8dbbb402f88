import { it } from 'vitest';
import { startPostgres } from '../support/postgres.js';
import { openPool, migratePg } from '../../src/store/pg/connect.js';
it('try', async () => {
  const s = await startPostgres();
  const url = await s.createDatabase('try');
  const pool = openPool({ url, password_env: 'X', pool_size: 2, migrate: true } as never);
  console.log(await migratePg(pool));
  console.log(await migratePg(pool));
  console.log((await pool.query('SELECT count(*) FROM tenants')).rows);
  await pool.end();
  s.close();
}, 60000);
