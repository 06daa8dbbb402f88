// Tenant records for the hot path: an LRU in front of the store, dropped whenever the data changes.
import { LRUCache } from 'lru-cache';
import type { Tenant, TenantRepository } from '../store/tenants.js';

// lru-cache cannot hold undefined, so a known-absent tenant is cached as this marker.
const ABSENT = Symbol('absent');

export class TenantContextLoader {
  private readonly cache: LRUCache<string, Tenant | typeof ABSENT>;
  hits = 0;
  misses = 0;

  constructor(
    private readonly tenants: TenantRepository,
    size: number,
  ) {
    this.cache = new LRUCache({ max: size });
  }

  tenant(id: string): Tenant | null {
    let v = this.cache.get(id);
    if (v === undefined) {
      this.misses++;
      v = this.tenants.get(id) ?? ABSENT;
      this.cache.set(id, v);
    } else {
      this.hits++;
    }
    return v === ABSENT ? null : v;
  }

  invalidate(): void {
    this.cache.clear();
  }
}
