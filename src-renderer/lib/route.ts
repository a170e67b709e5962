/** Hash routes, so every view has an address (and a screenshot) of its own. */
export type Route = { view: 'vms' } | { view: 'vm'; name: string } | { view: 'images' } | { view: 'settings' };

export function parseHash(hash: string): Route {
  const parts = hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'vms' && parts[1]) return { view: 'vm', name: parts[1] };
  if (parts[0] === 'images') return { view: 'images' };
  if (parts[0] === 'settings') return { view: 'settings' };
  return { view: 'vms' };
}

export function vmHref(name: string): string {
  return `#/vms/${encodeURIComponent(name)}`;
}
