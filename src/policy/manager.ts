// Where the live policy comes from and how it changes: compiled from policies/ (rebuilt on change, debounced,
// and on SIGHUP), a prebuilt bundle file, or an OPA bundle server polled with ETags. Every new bundle is
// swapped in atomically; one that fails to build or load leaves the last good one serving (logged, counted).
import { watch, type FSWatcher } from 'node:fs';
import { readFile } from 'node:fs/promises';
import type { Config } from '../core/config.js';
import type { Logger } from '../telemetry/logger.js';
import { compilePolicies } from './compile.js';
import { readBundle, type PolicyBundle } from './bundle.js';
import { loadBundle } from './bundle-loader.js';
import { bundleVerifier, type BundleVerifier } from './signature.js';
import { PolicyEngine } from './engine.js';
import { STABLE_INPUT_KEYS } from '../core/outcome.js';

export interface ReloadEvents {
  onReload(result: 'success' | 'failure', source: string, revision: string, error?: string): void;
}

export class PolicyManager {
  readonly live: PolicyEngine;
  readonly shadow: PolicyEngine | undefined;
  private readonly verifier: BundleVerifier | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private poller: NodeJS.Timeout | undefined;
  private etag: string | undefined;
  private polling: Promise<boolean> | undefined;
  private building: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly events: ReloadEvents,
  ) {
    this.live = new PolicyEngine(config.policies.entrypoint, config.policies.decision_cache_size, STABLE_INPUT_KEYS);
    this.verifier = config.policies.bundle_verification ? bundleVerifier(config.policies.bundle_verification) : undefined;
    if (config.policies.shadow) this.shadow = new PolicyEngine(config.policies.entrypoint, config.policies.decision_cache_size, STABLE_INPUT_KEYS);
  }

  /** The first load: a failure here stops start-up (with opa's own message for a compile error). */
  async start(): Promise<void> {
    const p = this.config.policies;
    if (p.bundle_url) {
      if (!(await this.poll())) throw new Error(`could not load the policy bundle from ${p.bundle_url}`);
      this.poller = setInterval(() => void this.poll(), p.bundle_poll_seconds * 1000);
      this.poller.unref();
    } else {
      await this.loadLocal();
      if (!p.bundle_file && p.watch) this.watchDir(p.dir);
    }
    if (this.shadow && p.shadow) {
      await this.shadow.load(p.shadow.bundle_file ? await this.fromBundle(await readFile(p.shadow.bundle_file)) : await readBundle(await compilePolicies(p.shadow.dir!, p.entrypoint)));
    }
  }

  /** Compiles policies/ or reads the prebuilt bundle file, and swaps it in. */
  private async loadLocal(): Promise<void> {
    const p = this.config.policies;
    await this.swapIn(p.bundle_file ? await this.fromBundle(await readFile(p.bundle_file)) : await readBundle(await compilePolicies(p.dir, p.entrypoint)));
  }

  /** A bundle from a file or a server: signature checked when a key is configured, Rego compiled. */
  private fromBundle(bytes: Buffer): Promise<PolicyBundle> {
    return loadBundle(bytes, { entrypoint: this.config.policies.entrypoint, verifier: this.verifier });
  }

  private swapIn(bundle: PolicyBundle): Promise<void> {
    return this.live.load(bundle);
  }

  /** Rebuild from the local source (SIGHUP, or a change under policies/). Concurrent requests coalesce. */
  reload(source: string): Promise<void> {
    if (this.config.policies.bundle_url) return this.poll().then(() => undefined);
    if (this.building) {
      this.again = true;
      return this.building;
    }
    this.building = (async () => {
      do {
        this.again = false;
        try {
          await this.loadLocal();
          this.events.onReload('success', source, this.live.revision);
          this.log.info({ source, policy_revision: this.live.revision }, 'policy reloaded');
        } catch (err) {
          const message = (err as Error).message;
          this.events.onReload('failure', source, this.live.revision, message);
          this.log.error({ source, error: message, policy_revision: this.live.revision }, 'policy reload failed; the last good policy keeps serving');
        }
      } while (this.again);
    })().finally(() => {
      this.building = undefined;
    });
    return this.building;
  }

  private watchDir(dir: string): void {
    try {
      this.watcher = watch(dir, { recursive: true }, (_event, file) => {
        if (file && !/\.(rego|json|ya?ml)$/.test(String(file))) return;
        clearTimeout(this.debounce);
        this.debounce = setTimeout(() => void this.reload('watch'), this.config.policies.debounce_ms);
      });
      this.watcher.on('error', (err) => this.log.warn({ err: err.message }, 'policy watch stopped; SIGHUP still reloads'));
    } catch (err) {
      this.log.warn({ err: (err as Error).message }, 'cannot watch the policy directory; SIGHUP still reloads');
    }
  }

  /** One poll of the bundle server; true if a bundle is in service afterwards. A poll still under way (a slow
   *  server, a large bundle) is joined, not overlapped: overlapping polls could finish out of order. */
  poll(): Promise<boolean> {
    this.polling ??= this.pollOnce().finally(() => (this.polling = undefined));
    return this.polling;
  }

  private async pollOnce(): Promise<boolean> {
    const url = this.config.policies.bundle_url!;
    try {
      const res = await fetch(url, { headers: this.etag ? { 'if-none-match': this.etag } : {}, signal: AbortSignal.timeout(5000) });
      if (res.status === 304) return true;
      if (!res.ok) throw new Error(`the bundle server answered ${res.status}`);
      const bytes = Buffer.from(await res.arrayBuffer());
      await this.swapIn(await this.fromBundle(bytes));
      this.etag = res.headers.get('etag') ?? undefined;
      this.events.onReload('success', 'bundle_url', this.live.revision);
      this.log.info({ url, etag: this.etag, policy_revision: this.live.revision }, 'policy bundle loaded');
      return true;
    } catch (err) {
      // The next poll downloads whatever is there: an ETag made of mtime and size (nginx's) can repeat for a new
      // bundle written within the same second, and a 304 would then hide it.
      this.etag = undefined;
      const message = (err as Error).message;
      this.events.onReload('failure', 'bundle_url', this.live.revision, message);
      this.log.error({ url, error: message }, 'policy bundle poll failed; the last good policy keeps serving');
      return this.live.revision !== '';
    }
  }

  close(): void {
    this.watcher?.close();
    clearTimeout(this.debounce);
    clearInterval(this.poller);
  }
}
