// Entry point: the commands (program.ts), and how their failures are told.
import { ConfigError } from '../core/config.js';
import { StoreError, StoreUnavailable, UnreachableError } from '../core/errors.js';
import { PolicyCompileError } from '../policy/compile.js';
import { buildProgram } from './program.js';

buildProgram().parseAsync(process.argv).catch((err: unknown) => {
  const known = err instanceof ConfigError || err instanceof StoreError || err instanceof PolicyCompileError || err instanceof UnreachableError || err instanceof StoreUnavailable;
  const e = err as Error & { code?: number; details?: string };
  if (known) process.stderr.write(`error: ${e.message}\n`);
  else if (typeof e.code === 'number' && e.details !== undefined) process.stderr.write(`error: gRPC call failed: ${e.details || e.message}\n`);
  else process.stderr.write(`error: ${e.message ?? String(err)}\n`);
  process.exit(1);
});
