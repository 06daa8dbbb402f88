// The chart without a cluster: helm lint and template, the Kubernetes schemas of a current release
// (kubernetes-validate, strict), the CRDs' own schemas (ServiceMonitor, Istio), and the rendered tenantgate container
// run as a process from its rendered arguments, environment and mounts, probed the way the kubelet would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseAllDocuments, stringify } from 'yaml';
import { ServiceMonitor } from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor';
import { AuthorizationPolicy } from '@kubernetes-models/istio/security.istio.io/v1/AuthorizationPolicy';

export const ROOT = resolve(__dirname, '..', '..');
export const CHART = join(ROOT, 'deploy', 'helm', 'tenantgate');
const HELM = join(ROOT, '.tools', 'bin', 'helm');
const KUBERNETES_VALIDATE = join(ROOT, '.tools', 'venv', 'bin', 'kubernetes-validate');
/** The Kubernetes release whose schemas the manifests are checked against. */
export const KUBERNETES_VERSION = '1.37';

export type Doc = { apiVersion: string; kind: string; metadata: { name: string }; [k: string]: any };

function tools(): void {
  for (const t of [HELM, KUBERNETES_VALIDATE]) if (!existsSync(t)) throw new Error(`${t} is missing: run bash scripts/test-tools.sh (npm test does)`);
}

function valuesFile(values: object): string {
  const file = join(mkdtempSync(join(tmpdir(), 'tg-values-')), 'values.yaml');
  writeFileSync(file, stringify(values));
  return file;
}

export function helm(args: string[], values: object = {}): { status: number; stdout: string; stderr: string } {
  tools();
  const r = spawnSync(HELM, [...args, '-f', valuesFile(values)], { encoding: 'utf8' });
  return { status: r.status ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `helm template` with these values: the documents, or throws with helm's message. */
export function render(values: object): Doc[] {
  const r = helm(['template', 't', CHART, '--namespace', 'tenantgate'], values);
  if (r.status !== 0) throw new Error(r.stderr.trim());
  return parseAllDocuments(r.stdout).map((d) => d.toJSON() as Doc).filter(Boolean);
}

/** Problems with the documents: kubernetes-validate (strict) for built-in kinds, the CRDs' schemas for the rest. */
export function problems(docs: Doc[]): string[] {
  tools();
  const out: string[] = [];
  const builtIn = docs.filter((d) => !CRDS[d.kind]);
  const file = join(mkdtempSync(join(tmpdir(), 'tg-manifests-')), 'all.yaml');
  writeFileSync(file, builtIn.map((d) => stringify(d)).join('---\n'));
  const r = spawnSync(KUBERNETES_VALIDATE, ['--strict', '-k', KUBERNETES_VERSION, '--quiet', file], { encoding: 'utf8' });
  if (r.status !== 0 || /WARN|ERROR/.test(r.stdout + r.stderr)) out.push(`${r.stdout}${r.stderr}`.trim() || `kubernetes-validate exited ${r.status}`);
  for (const d of docs) {
    const Model = CRDS[d.kind];
    if (!Model) continue;
    try {
      new Model(d).validate();
    } catch (err) {
      out.push(`${d.kind}/${d.metadata.name}: ${(err as Error).message}`);
    }
  }
  return out;
}

const CRDS: Record<string, new (d: any) => { validate(): void }> = { ServiceMonitor, AuthorizationPolicy };

export function find(docs: Doc[], kind: string, name?: string): Doc {
  const d = docs.find((x) => x.kind === kind && (name === undefined || x.metadata.name === name));
  if (!d) throw new Error(`no ${kind}${name ? ` ${name}` : ''} rendered`);
  return d;
}

/** The image's own environment (Dockerfile ENV), which the rendered container starts with. */
function imageEnv(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
  const runtime = text.slice(text.lastIndexOf('\nFROM '));
  const block = /\nENV ((?:[^\n]*\\\n)*[^\n]*)/.exec(runtime)![1]!;
  const env: Record<string, string> = {};
  for (const m of block.replace(/\\\n/g, ' ').matchAll(/([A-Z0-9_]+)=(\S+)/g)) env[m[1]!] = m[2]!;
  return env;
}

export interface RunningContainer {
  child: ChildProcess;
  /** A path of the container, where it is on this machine. */
  path(p: string): string;
  env: Record<string, string>;
  /** The rendered probes, run as the kubelet runs them; true when each passes. */
  probe(kind: 'livenessProbe' | 'readinessProbe' | 'startupProbe'): Promise<boolean>;
  stop(): Promise<void>;
}

/**
 * Runs the Deployment's tenantgate container as a process: its args and env (secretKeyRef from `secrets`), its
 * mounts (ConfigMaps from the rendered documents or `configMaps`, Secrets from `secrets`, emptyDirs) under a
 * temporary root, and the image as the Dockerfile makes it (/app with a bundle built by `policy build`).
 */
export async function runContainer(docs: Doc[], secrets: Record<string, Record<string, string>> = {}, configMaps: Record<string, Record<string, Buffer>> = {}): Promise<RunningContainer> {
  const deployment = find(docs, 'Deployment');
  const pod = deployment.spec.template.spec;
  const c = pod.containers.find((x: any) => x.name === 'tenantgate');
  const root = mkdtempSync(join(tmpdir(), 'tg-pod-'));
  const mounts: string[] = ['/app', ...c.volumeMounts.map((m: any) => m.mountPath as string)].sort((a, b) => b.length - a.length);
  const local = (p: string) => (mounts.some((m) => p === m || p.startsWith(m + '/')) ? join(root, p) : p);
  const rewrite = (s: string) => s.replace(/\/[A-Za-z0-9_./-]+/g, (p) => local(p));
  const secretValue = (ref: { name: string; key: string }) => {
    const v = secrets[ref.name]?.[ref.key];
    if (v === undefined) throw new Error(`the test gave no secret ${ref.name}/${ref.key}`);
    return v;
  };
  for (const m of c.volumeMounts) mountVolume(pod.volumes.find((v: any) => v.name === m.name), join(root, m.mountPath), docs, secrets, configMaps, rewrite);
  // The image: /app/policy/bundle.tar.gz as the Dockerfile builds it, /app/lib/opa-builtins.wasm from set-up.
  mkdirSync(join(root, 'app', 'policy'), { recursive: true });
  const built = spawnSync(process.execPath, [join(ROOT, 'bin', 'tenantgate.js'), 'policy', 'build', '-o', join(root, 'app', 'policy', 'bundle.tar.gz')], { cwd: ROOT, encoding: 'utf8' });
  if (built.status !== 0) throw new Error(`policy build failed: ${built.stderr}`);
  mkdirSync(join(root, 'app', 'lib'));
  symlinkSync(join(ROOT, '.tools', 'lib', 'opa-builtins.wasm'), join(root, 'app', 'lib', 'opa-builtins.wasm'));
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(imageEnv())) env[k] = rewrite(v);
  for (const e of c.env ?? []) env[e.name] = e.valueFrom ? secretValue(e.valueFrom.secretKeyRef) : rewrite(String(e.value));
  const child = spawn(process.execPath, [join(ROOT, 'bin', 'tenantgate.js'), ...c.args.map((a: string) => rewrite(a))], {
    cwd: join(root, 'app'),
    env: { PATH: process.env.PATH, HOME: root, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr!.on('data', (d) => (log += d));
  const port = (name: string | number) => (typeof name === 'number' ? name : c.ports.find((p: any) => p.name === name)!.containerPort);
  const probe = async (kind: 'livenessProbe' | 'readinessProbe' | 'startupProbe') => runProbe(c[kind], port);
  const deadline = Date.now() + 30_000;
  while (!(await probe('readinessProbe').catch(() => false))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the rendered container did not become ready: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    child,
    path: local,
    env,
    probe,
    stop: () =>
      new Promise<void>((done) => {
        if (child.exitCode !== null) return done();
        child.once('exit', () => done());
        child.kill('SIGTERM');
      }),
  };
}

function mountVolume(volume: any, dir: string, docs: Doc[], secrets: Record<string, Record<string, string>>, configMaps: Record<string, Record<string, Buffer>>, rewrite: (s: string) => string): void {
  mkdirSync(dir, { recursive: true });
  if (volume.configMap) {
    const rendered = docs.find((d) => d.kind === 'ConfigMap' && d.metadata.name === volume.configMap.name);
    const data: Record<string, Buffer> = rendered ? Object.fromEntries(Object.entries(rendered.data as Record<string, string>).map(([k, v]) => [k, Buffer.from(rewrite(v))])) : configMaps[volume.configMap.name]!;
    if (!data) throw new Error(`no ConfigMap ${volume.configMap.name}`);
    for (const [k, v] of Object.entries(data)) writeFileSync(join(dir, k), v);
  } else if (volume.secret) {
    const s = secrets[volume.secret.secretName];
    if (!s) throw new Error(`the test gave no secret ${volume.secret.secretName}`);
    for (const item of volume.secret.items ?? Object.keys(s).map((key) => ({ key, path: key }))) {
      mkdirSync(dirname(join(dir, item.path)), { recursive: true });
      writeFileSync(join(dir, item.path), s[item.key]!);
    }
  }
}

/** A probe as the kubelet runs it: httpGet (a 2xx/3xx), grpc (grpc.health.v1 SERVING) or tcpSocket. */
async function runProbe(p: any, port: (name: string | number) => number): Promise<boolean> {
  if (p.httpGet) {
    const res = await fetch(`http://127.0.0.1:${port(p.httpGet.port)}${p.httpGet.path}`, { signal: AbortSignal.timeout(1000) });
    return res.status >= 200 && res.status < 400;
  }
  if (p.grpc) {
    const { HealthClient } = await import('./health.js');
    const client = new HealthClient(`127.0.0.1:${port(p.grpc.port)}`);
    try {
      return (await client.status(p.grpc.service ?? '')) === 'SERVING';
    } finally {
      client.close();
    }
  }
  throw new Error(`probe kind not run here: ${JSON.stringify(p)}`);
}
