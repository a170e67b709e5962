/*
 * okLinux Desktop's remote-share relay client. QEMU's user-mode networking runs it once per guest
 * connection to a remote share's relay address (guestfwd=tcp:ADDR:PORT-cmd:…), with that connection on
 * its stdin, stdout and stderr. It connects to the VM supervisor's relay socket (argv: SOCKET TAG), sends
 * the share's tag on one line, then pipes bytes both ways until either side closes. It never writes
 * anything of its own: stderr is the guest's connection too.
 */
import net from 'node:net';

const [socketPath, tag] = process.argv.slice(2);
if (!socketPath || !tag) process.exit(2);
const guest = new net.Socket({ fd: 0, readable: true, writable: true });
const relay = net.connect(socketPath);
const done = () => {
  guest.destroy();
  relay.destroy();
  process.exit(0);
};
for (const s of [guest, relay]) {
  s.on('error', done);
  s.on('close', done);
}
relay.write(`${tag}\n`);
guest.pipe(relay);
relay.pipe(guest);
