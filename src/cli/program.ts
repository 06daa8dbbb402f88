// The commands of `tenantgate`: serve, demo, check, replay, policy, token here; the data and store commands in
// data-commands.ts and store-commands.ts.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Option } from 'commander';
import { StrictCommand } from './command.js';
import { loadConfig, ConfigError, type Config } from '../core/config.js';
import { startServer, type RunningServer } from '../server.js';
import { CLIENT_TLS_OPTIONS } from '../tls/client-tls.js';
import { withLocalStore } from './local-store.js';
import { redactUrl } from '../util/redact-url.js';
import { compilePolicies } from '../policy/compile.js';
import { findOpa, PROJECT_ROOT } from '../policy/opa.js';
import { checkOnce, formatResponse } from './check-client.js';
import { formatExplanation, formatReplay } from './explain-format.js';
import { replay } from './replay.js';
import type { ExplainReport } from '../check/explain.js';
import type { HttpRequestSpec } from '../check/envoy-request.js';
import { adminTokens, callAdmin } from '../admin/api.js';
import { demoBanner, demoIssuer, ensureDemoAdminToken, ensureDemoKeys, mintToken, seedDemoTenants, signingKeyPath } from './demo.js';
import { spawnSync } from 'node:child_process';
import { registerDataCommands } from './data-commands.js';
import { registerStoreCommands } from './store-commands.js';
import { isPrimary, runPrimary } from './cluster.js';
import { parseDuration } from '../admin/dispatch.js';

const DEFAULT_CONFIG = 'tenantgate.yaml';
/** `check`'s exit status for a denied request (1 is for errors: bad arguments, nothing listening, ...). */
const DENIED_EXIT = 2;

/** A listen address as a client dials it: a wildcard host is this machine. */
function dialable(address: string): string {
  return address.replace(/^(0\.0\.0\.0|\[::\]|::)(?=:\d+$)/, '127.0.0.1');
}

/** --config, else $TENANTGATE_CONFIG, else ./tenantgate.yaml if present, else built-in defaults. */
function configFrom(opts: { config?: string }): Config {
  const file = opts.config ?? process.env.TENANTGATE_CONFIG ?? (existsSync(DEFAULT_CONFIG) ? DEFAULT_CONFIG : undefined);
  return loadConfig(file);
}

function print(json: boolean, value: unknown, human: () => string): void {
  process.stdout.write((json ? JSON.stringify(value, null, 2) : human()) + '\n');
}

/**
 * Serves until SIGTERM/SIGINT: health goes NOT_SERVING, in-flight calls finish, exit 0. SIGHUP rebuilds the
 * policy. The handlers are in place before start-up finishes, so an early signal is never lost.
 */
function serveUntilSignal(starting: Promise<RunningServer>): Promise<RunningServer> {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    starting
      .then((s) => s.shutdown())
      .then(
        () => process.exit(0),
        () => process.exit(1),
      );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', () => void starting.then((s) => s.reloadPolicy()));
  return starting;
}

const configOption = () => new Option('-c, --config <file>', `config file (default: ${DEFAULT_CONFIG} if present)`);

/** Every command, as `tenantgate` runs them (and as scripts/cli-reference.mjs documents them). */
export function buildProgram(): StrictCommand {
  const { version } = JSON.parse(readFileSync(join(PROJECT_ROOT, 'package.json'), 'utf8')) as { version: string };
  const program = new StrictCommand('tenantgate').description('Multi-tenant authorization sidecar for Envoy ext_authz').version(version, '-V, --version', 'print the version').showHelpAfterError();
  registerServeCommands(program);
  registerCheckCommands(program);
  registerPolicyCommands(program);
  registerDataCommands(program, configFrom);
  registerStoreCommands(program, configFrom);
  registerTokenCommands(program);
  return program;
}

function registerServeCommands(program: StrictCommand): void {
  program
    .command('serve')
    .description('run the ext_authz gRPC server')
    .addOption(configOption())
    .action(async (opts) => {
      const config = configFrom(opts);
      if (config.server.workers > 1 && isPrimary()) return runPrimary(config.server.workers);
      await serveUntilSignal(startServer(config));
    });

  program
    .command('demo')
    .description('seed demo tenants, keys and an admin token (once), print what to try, and serve')
    .addOption(configOption())
    .action(async (opts) => {
      const config = configFrom(opts);
      const { issuer, audience, jwksFile } = demoIssuer(config);
      await ensureDemoKeys(jwksFile);
      // The admin API on, with a token of the demo's own, unless one is configured.
      const adminTokenFile = config.admin.token_file ?? (process.env.TENANTGATE_ADMIN_TOKEN ? undefined : join(dirname(config.store.path), 'admin-token'));
      if (adminTokenFile && !config.admin.token_file) {
        ensureDemoAdminToken(adminTokenFile);
        config.admin.token_file = adminTokenFile;
      }
      await withLocalStore(config, 'demo', seedDemoTenants);
      const server = await serveUntilSignal(startServer(config));
      const token = await mintToken({
        keyFile: signingKeyPath(jwksFile), issuer, audience, tenantClaim: config.auth.jwt.tenant_claim,
        tenant: 'acme', subject: 'alice@acme', ttlSeconds: 24 * 3600,
      });
      process.stdout.write(demoBanner({ grpc: server.address, http: server.httpAddress, admin: server.adminAddress, adminTokenFile: adminTokenFile ?? '$TENANTGATE_ADMIN_TOKEN', store: config.store.url ? redactUrl(config.store.url) : config.store.path }, token));
    });
}

/** check --explain: the admin API's ExplainCheck, printed phase by phase; exit 2 when the request would be denied. */
async function explainCheck(opts: Record<string, any>, spec: HttpRequestSpec): Promise<void> {
  const config = configFrom(opts);
  const address = opts.admin ?? dialable(config.server.admin_address);
  const token = opts.token ?? adminTokens(config)[0]?.token;
  if (!token) throw new ConfigError('--explain needs the admin token: --token, TENANTGATE_ADMIN_TOKEN or admin.token_file');
  const req = { method: spec.method, path: spec.path, host: spec.host, headers: (spec.headers ?? []).map(([name, value]) => ({ name, value })), body: spec.body, context_extensions: spec.contextExtensions, source_address: spec.sourceAddress };
  const report = (await callAdmin(address, token, 'ExplainCheck', req, opts)) as ExplainReport;
  print(Boolean(opts.json), report, () => formatExplanation(report));
  if (!report.decision.allowed) process.exitCode = DENIED_EXIT;
}

function registerCheckCommands(program: StrictCommand): void {
  const checkCommand = program
    .command('check')
    .description('send one Check call, as Envoy would, and print the decision (exit 0: allowed, 2: denied, 1: error)')
    .addOption(configOption())
    .option('-s, --server <addr>', 'tenantgate address, host:port (default: server.address of the config)')
    .option('-X, --method <method>', 'HTTP method', 'GET')
    .option('-p, --path <path>', 'HTTP path with query', '/')
    .option('--host <host>', 'the :authority', 'localhost')
    .option('-H, --header <header...>', "request header 'name: value' (repeatable)")
    .option('-d, --body <body>', 'request body (as with_request_body sends it)')
    .option('-e, --context <kv...>', 'context_extensions key=value (repeatable)')
    .option('--source-ip <address>', "the client's address Envoy reports (attributes.source), for tenant rules' networks", '127.0.0.1')
    .option('--json', 'print the raw CheckResponse (or the explanation) as JSON')
    .option('--explain', "explain every phase's result through the admin API (nothing is spent or logged)")
    .option('--admin <addr>', 'the admin API for --explain (default: server.admin_address of the config)')
    .option('--token <token>', 'admin token for --explain (default: $TENANTGATE_ADMIN_TOKEN, then admin.token_file)');
  for (const [flags, help] of CLIENT_TLS_OPTIONS) checkCommand.option(flags, help);
  checkCommand
    .action(async (opts) => {
      const headers: [string, string][] = (opts.header ?? []).map((h: string) => {
        const i = h.indexOf(':');
        if (i <= 0) throw new ConfigError(`invalid header "${h}": use 'name: value'`);
        return [h.slice(0, i).trim(), h.slice(i + 1).trim()] as [string, string];
      });
      const contextExtensions = Object.fromEntries((opts.context ?? []).map((kv: string) => kv.split(/=(.*)/s).slice(0, 2)));
      const spec = { method: opts.method.toUpperCase(), path: opts.path, host: opts.host, headers, body: opts.body, contextExtensions, sourceAddress: opts.sourceIp };
      if (opts.explain) return explainCheck(opts, spec);
      const server = opts.server ?? dialable(configFrom(opts).server.address);
      const res = await checkOnce(server, spec, 5000, opts);
      print(Boolean(opts.json), res, () => formatResponse(res));
      if ((res.status?.code ?? 0) !== 0) process.exitCode = DENIED_EXIT;
    });
  program
    .command('replay <decision-id>')
    .description("explain a past decision from the decision log, and what today's policy says of the same input (exit 2: denied today)")
    .addOption(configOption())
    .option('--log <file>', 'the decision log file (default: decision_log.output of the config)')
    .option('--json', 'print JSON')
    .action(async (id: string, opts) => {
      const r = await replay(configFrom(opts), id, opts.log);
      print(Boolean(opts.json), r, () => formatReplay(r));
      if (r.now && !r.now.decision.allowed) process.exitCode = DENIED_EXIT;
    });
}

function registerPolicyCommands(program: StrictCommand): void {
  const policy = program.command('policy').description('compile and test the Rego policies');
  policy
    .command('build')
    .description('compile policies/ to a WASM bundle (opa build -t wasm)')
    .addOption(configOption())
    .option('-o, --output <file>', 'bundle file to write', 'data/bundle.tar.gz')
    .action(async (opts) => {
      const config = configFrom(opts);
      const bundle = await compilePolicies(config.policies.dir, config.policies.entrypoint);
      mkdirSync(dirname(resolve(opts.output)), { recursive: true });
      writeFileSync(opts.output, bundle);
      process.stdout.write(`wrote ${opts.output} (${bundle.length} bytes)\n`);
    });
  policy
    .command('test')
    .description('run opa test with coverage on the policies (fails below the threshold)')
    .addOption(configOption())
    .option('--threshold <percent>', 'minimum coverage', '100')
    .action((opts) => {
      const config = configFrom(opts);
      const opa = findOpa();
      const verbose = spawnSync(opa, ['test', config.policies.dir, '-v'], { stdio: 'inherit' });
      if (verbose.status !== 0) process.exit(verbose.status ?? 1);
      const cov = spawnSync(opa, ['test', config.policies.dir, '--coverage', '--threshold', String(opts.threshold)], { encoding: 'utf8' });
      if (cov.status !== 0) {
        process.stderr.write((cov.stderr || 'policy coverage is below the threshold') + '\n');
        process.exit(cov.status ?? 1);
      }
      const pct = /"coverage":\s*([\d.]+)\s*}\s*$/.exec(cov.stdout)?.[1];
      process.stdout.write(`policy coverage: ${pct ?? '?'}% (threshold ${opts.threshold}%)\n`);
    });
}

function registerTokenCommands(program: StrictCommand): void {
  const token = program.command('token').description('demo tokens, signed with the demo key (data/keys)');
  token
    .command('mint')
    .description('mint a JWT for a tenant user with the demo signing key')
    .addOption(configOption())
    .option('--tenant <id>', 'tenant claim value')
    .requiredOption('--sub <subject>', 'subject (user id)')
    .option('--ttl <duration>', 'lifetime, e.g. 15m, 1h, 7d', '1h')
    .option('--claim <kv...>', 'extra claim name=value (value parsed as JSON when possible)')
    .action(async (opts) => {
      const config = configFrom(opts);
      const { issuer, audience, jwksFile } = demoIssuer(config);
      const claims: Record<string, unknown> = {};
      for (const kv of opts.claim ?? []) {
        const [k, v = ''] = (kv as string).split(/=(.*)/s);
        try {
          claims[k!] = JSON.parse(v);
        } catch {
          claims[k!] = v;
        }
      }
      const jwt = await mintToken({
        keyFile: signingKeyPath(jwksFile), issuer, audience, tenantClaim: config.auth.jwt.tenant_claim,
        tenant: opts.tenant, subject: opts.sub, ttlSeconds: parseDuration(opts.ttl), claims,
      });
      process.stdout.write(jwt + '\n');
    });
}
