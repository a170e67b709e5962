/**
 * A stand-in for bldy (crosvm's command line; the real one cannot be built
 * here): it records each call in $FAKE_BLDY_LOG; `run` stays up silently until
 * `powerbtn` or `stop` is called with its control socket. With FAKE_BLDY_HALT=fails, `powerbtn` instead
 * prints oklinux-init's lines for a halt the kernel would not finish, and `run` stays up. `publishBldy` offers
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
    if [ "$FAKE_BLDY_HALT" = fails ]; then
      # a guest whose kernel will not power off: oklinux-init's lines, and the machine stays up
      trap 'printf "oklinux-init: poweroff\\r\\n"; sleep 1; printf "oklinux-init: poweroff failed\\r\\n"' USR1
    else
      trap 'exit 0' USR1
    fi
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
