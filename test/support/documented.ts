// What the documentation promises, written out here and not imported from the code under test, so that a change
// to the code's own list cannot make the tests agree with it (docs/architecture.md "How it decides", SECURITY.md).
export const DOCUMENTED_TRUSTED_HEADERS = [
  'x-tenant-id',
  'x-tenant-tier',
  'x-user-id',
  'x-user-groups',
  'x-primary-group',
  'x-data-access-level',
  'x-data-filters',
  'x-tenant-partition',
  'x-tenant-storage-prefix',
  'x-tenant-search-index',
  'x-tenant-upstream',
  'x-routing-strategy',
  'x-upstream-provider',
  'x-api-key-id',
  'x-federation-source',
  'x-federation-access',
  'x-decision-id',
  'x-policy-revision',
];
