/**
 * Which redirects are followed, for downloads and catalog requests alike: http(s) targets only (a
 * `file:` Location would read a host file), and never from https down to plain http (a manifest
 * fetched over https carries the digests every artifact is checked against).
 */
export function redirectProblem(from: string, next: URL): string | null {
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    return `redirected to a ${next.protocol.replace(/:$/, '')}: URL (${next.href}); only http and https redirects are followed`;
  }
  if (new URL(from).protocol === 'https:' && next.protocol === 'http:') {
    return `redirected from https to plain http (${next.href}); a redirect that drops https is never followed`;
  }
  return null;
}
