/**
 * A stand-in for bldy (crosvm's command line; the real one cannot be built
 * here): it records each call in $FAKE_BLDY_LOG; `run` stays up silently until
 * `powerbtn` or `stop` is called with its control socket. `publishBldy` offers
 * it from a catalog manifest, so `oklinux pull bldy` installs it the real way.
 */
import { sha256Hex, type TestServer } from './http';

export const FAKE_BLDY = `#!/bin/sh
# A stand-in for bldy (crosvm's command line): records each call; "run" stays up silently
# until "powerbtn" or "stop" is called with its control socket.
echo "$*" >> "$FAKE_BLDY_LOG"
case "$1" in
  --version) echo "bldy 0.0.0-test"; exit 0 ;;
  run)
    sock=""; prev=""
    for a in "$@"; do [ "$prev" = "-s" ] && sock="$a"; prev="$a"; done
    echo $$ > "$sock.pid"
    trap 'exit 0' USR1
    trap 'exit 143' TERM
    while :; do sleep 0.1; done ;;
  powerbtn) kill -USR1 "$(cat "$2.pid")"; exit 0 ;;
  stop) kill -KILL "$(cat "$2.pid")"; exit 0 ;;
esac
exit 2
`;

/** Serve FAKE_BLDY and a manifest offering it (GET /vmm/manifest.json); returns the manifest URL. */
export function publishBldy(server: TestServer, script: string = FAKE_BLDY): string {
  const body = Buffer.from(script);
  server.route('/vmm/bldy', { body });
  server.route('/vmm/manifest.json', {
    body: Buffer.from(
      JSON.stringify({
        schema: 1,
        vmm: [
          { name: 'bldy', version: '0.0.0-test', os: 'linux', arch: 'x86_64', url: 'bldy', sha256: sha256Hex(body) },
        ],
      }),
    ),
  });
  return server.url('/vmm/manifest.json');
}
