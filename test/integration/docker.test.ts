// No Docker engine runs here, so the Docker assets are tested by their parts: the compose file parses with
// `docker compose config`, the Dockerfile's policy stage command builds a bundle that loads, and the runtime
// stage's environment starts tenantgate on that prebuilt bundle, as the image would.
import { describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { findOpa } from '../../src/policy/opa.js';
import { readBundle } from '../../src/policy/bundle.js';
import { PolicyEngine } from '../../src/policy/engine.js';
import { spawnServe } from '../support/serve-process.js';
import { createAuthClient } from '../../src/cli/check-client.js';
import { envoyCheck } from '../support/envoy.js';
import { parse as parseYaml } from 'yaml';
import { envOverrides, parseConfig } from '../../src/core/config.js';

const ROOT = resolve(__dirname, '..', '..');
const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const has = (cmd: string, args: string[]) => spawnSync(cmd, args, { stdio: 'ignore' }).status === 0;
const compose = has('docker', ['compose', 'version']) ? ['docker', 'compose'] : has('docker-compose', ['version']) ? ['docker-compose'] : undefined;

describe('docker-compose.yml', () => {
  it.skipIf(!has('docker', ['--version']))('passes `docker compose config` (envoy + tenantgate + a demo upstream)', () => {
    expect(compose, 'scripts/services.sh installs docker-compose where a docker client exists').toBeDefined();
    const out = execFileSync(compose![0]!, [...compose!.slice(1), '-f', join(ROOT, 'docker-compose.yml'), 'config'], { encoding: 'utf8', cwd: ROOT });
    expect(out).toMatch(/^ {2}envoy:$/m);
    expect(out).toMatch(/^ {2}tenantgate:$/m);
    expect(out).toMatch(/^ {2}upstream:$/m);
    const fleet = execFileSync(compose![0]!, [...compose!.slice(1), '-f', join(ROOT, 'docker-compose.yml'), '--profile', 'fleet', 'config'], { encoding: 'utf8', cwd: ROOT });
    for (const s of ['postgres', 'redis', 'fleet-seed', 'tenantgate-fleet', 'envoy-fleet']) expect(fleet).toMatch(new RegExp(`^ {2}${s}:$`, 'm'));
  });
});

describe('docker-compose.yml, fleet profile', () => {
  const doc = parseYaml(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8')) as { services: Record<string, Record<string, any>> };
  const fleet = Object.entries(doc.services).filter(([, s]) => (s.profiles as string[] | undefined)?.includes('fleet'));

  it('runs PostgreSQL, Redis and two tenantgate replicas behind their own Envoy, on the same envoy.yaml', () => {
    expect(fleet.map(([n]) => n).sort()).toEqual(['envoy-fleet', 'fleet-seed', 'postgres', 'redis', 'tenantgate-fleet']);
    const replicas = doc.services['tenantgate-fleet']!;
    expect(replicas.deploy).toEqual({ replicas: 2 });
    // Envoy's cluster address "tenantgate" is both replicas on the fleet network.
    expect(replicas.networks.fleet.aliases).toEqual(['tenantgate']);
    expect(doc.services['envoy-fleet']!.volumes).toEqual(doc.services.envoy!.volumes);
  });

  it("each replica's environment is a valid configuration on PostgreSQL and Redis", () => {
    const env = doc.services['tenantgate-fleet']!.environment as Record<string, string>;
    const config = parseConfig(envOverrides(env));
    expect(config.store.url).toBe('postgres://tenantgate@postgres:5432/tenantgate');
    expect(env[config.store.password_env]).toBe(doc.services.postgres!.environment.POSTGRES_PASSWORD);
    expect([config.quota.store, config.quota.redis_url]).toEqual(['redis', 'redis://redis:6379']);
    expect(config.server.address).toBe('0.0.0.0:9191');
  });
});

describe('Dockerfile', () => {
  const stages = dockerfile.split('\n').filter((l) => l.startsWith('FROM '));

  it('is multi-stage: opa for the policies, a Node build, a slim non-root runtime', () => {
    expect(stages).toHaveLength(3);
    expect(stages[0]).toMatch(/^FROM golang:\S+ AS policy$/);
    expect(dockerfile).toContain('RUN opa test policies/');
    expect(dockerfile).toContain('COPY --from=build /app/policy/bundle.tar.gz policy/bundle.tar.gz');
    expect(stages[2]).toMatch(/^FROM node:20-\S*slim$/);
    const runtime = dockerfile.slice(dockerfile.lastIndexOf('FROM '));
    expect(runtime).toMatch(/^USER node$/m);
    expect(runtime).toContain('COPY proto/ proto/');
    // The launcher is the entrypoint itself, so its #! line's V8 flags apply (the slim image's env has -S).
    expect(runtime).toMatch(/^ENTRYPOINT \["bin\/tenantgate\.js"\]$/m);
    expect(readFileSync(join(ROOT, 'bin', 'tenantgate.js'), 'utf8')).toMatch(/^#!\/usr\/bin\/env -S MALLOC_ARENA_MAX=1 node --single-threaded-gc /);
    const pinned = /OPA_VERSION=(v[\d.]+)/.exec(readFileSync(join(ROOT, 'scripts', 'setup.sh'), 'utf8'))![1];
    expect(dockerfile).toContain(`go install github.com/open-policy-agent/opa@${pinned}`);
    // OPA's builtins module: built as the set-up builds it, copied where the runtime's ENV says.
    const goBuild = "GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags='-s -w'";
    expect(readFileSync(join(ROOT, 'scripts', 'setup.sh'), 'utf8')).toContain(goBuild);
    expect(dockerfile).toContain(`RUN cd tools/opa-builtins && ${goBuild} -o /out/opa-builtins.wasm .`);
    expect(runtime).toContain('COPY --from=policy /out/opa-builtins.wasm lib/opa-builtins.wasm');
    expect(runtime).toMatch(/TENANTGATE_OPA_BUILTINS_WASM=\/app\/lib\/opa-builtins\.wasm$/m);
  });

  it('its build stage command builds a bundle, and its runtime environment serves it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tg-docker-'));
    // The bundle command of the build stage, run as written (with the opa the project installed).
    expect(dockerfile).toMatch(/node bin\/tenantgate\.js policy build -o \/app\/policy\/bundle\.tar\.gz/);
    execFileSync(process.execPath, [join(ROOT, 'bin', 'tenantgate.js'), 'policy', 'build', '-o', join(dir, 'bundle.tar.gz')], { cwd: ROOT, env: { ...process.env, OPA_BIN: findOpa() } });
    const bundle = await readBundle(readFileSync(join(dir, 'bundle.tar.gz')));
    const engine = new PolicyEngine('tenantgate/authz/decision');
    await engine.load(bundle);

    // The runtime stage's ENV, with the paths moved into the temp dir.
    const env: Record<string, string> = {};
    for (const m of dockerfile.matchAll(/^\s*(TENANTGATE_[A-Z_]+)=(\S+)/gm)) env[m[1]!] = m[2]!.replace(/\\$/, '');
    expect(Object.keys(env).sort()).toEqual(['TENANTGATE_OPA_BUILTINS_WASM', 'TENANTGATE_POLICIES__BUNDLE_FILE', 'TENANTGATE_SERVER__ADDRESS', 'TENANTGATE_STORE__PATH']);
    env.TENANTGATE_OPA_BUILTINS_WASM = join(ROOT, '.tools', 'lib', 'opa-builtins.wasm');
    env.TENANTGATE_POLICIES__BUNDLE_FILE = join(dir, 'bundle.tar.gz');
    env.TENANTGATE_STORE__PATH = join(dir, 'data', 'tenantgate.db');
    env.TENANTGATE_SERVER__ADDRESS = '127.0.0.1:0';
    // No opa in the image: make sure none is used.
    const served = await spawnServe([], { cwd: dir, env: { ...env, OPA_BIN: '/nonexistent/opa', PATH: '/usr/bin:/bin' } });
    const child = served.child;
    const client = createAuthClient(served.address);
    const r = await envoyCheck(client, { method: 'GET', path: '/healthz' }, { timeoutMs: 5000 });
    expect(r.outcome).toBe('upstream');
    if (r.outcome === 'upstream') expect(r.dynamicMetadata.policy_revision).toBe(bundle.revision);
    client.close();
    const exited = new Promise((x) => child.once('exit', x));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});
