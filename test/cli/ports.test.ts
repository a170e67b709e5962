/**
 * Published ports without a guest (issue #12, item 2): `--publish` and `oklinux port add|rm|ls`
 * through the real CLI and SQLite on disk, the parser's refusals, and the rules (127.0.0.1 by
 * default, other addresses flagged as reachable from the network, no ports on a VM with no
 * network, one host socket per port). Booting with them is in test/vm/net.test.ts.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Port, Vm } from '@contract';
import { parsePublish } from '../../src-main/cli/commands/ports';
import { runCli } from '../helpers/cli';
import { tmpDir } from '../helpers/tmp';
import { vmEnv } from '../helpers/vm';

const t = tmpDir('oklinux-ports-');
const env = vmEnv(path.join(t.dir, 'home'));
const cli = (...args: string[]) => runCli(args, { env });

afterAll(() => t.cleanup());

describe('parsePublish', () => {
  it('reads [ADDR:]HOST:GUEST[/tcp|/udp]', () => {
    expect(parsePublish('8080:80')).toEqual({ hostPort: 8080, guestPort: 80, protocol: 'tcp' });
    expect(parsePublish('0.0.0.0:2222:22/tcp')).toEqual({
      hostAddr: '0.0.0.0',
      hostPort: 2222,
      guestPort: 22,
      protocol: 'tcp',
    });
    expect(parsePublish('127.0.0.1:5353:53/udp')).toMatchObject({ protocol: 'udp', hostPort: 5353, guestPort: 53 });
  });

  it('refuses what is not one, naming the part and the form', () => {
    expect(() => parsePublish('8080')).toThrow(/"8080" is not a port to publish. Use \[ADDR:\]HOST:GUEST/);
    expect(() => parsePublish('8080:80/sctp')).toThrow(/the protocol must be tcp or udp, not "sctp"/);
    expect(() => parsePublish('70000:80')).toThrow(/the host port "70000" is not a number from 1 to 65535/);
    expect(() => parsePublish('8080:0')).toThrow(/the guest port "0" is not a number from 1 to 65535/);
    expect(() => parsePublish('a:b:c:d')).toThrow(/is not a port to publish/);
  });
});

describe('ports through the CLI', () => {
  it('create --publish records them: 127.0.0.1 unless written out, another address flagged', async () => {
    const r = await cli(
      'create',
      'web',
      '--image',
      'k',
      '--publish',
      '8080:80',
      '--publish',
      '0.0.0.0:5353:53/udp',
      '--json',
    );
    expect(r.code, r.stderr).toBe(0);
    expect(Vm.parse(JSON.parse(r.stdout)).net).toBe('nat');
    const ls = Port.array().parse(JSON.parse((await cli('port', 'ls', 'web', '--json')).stdout));
    expect(ls).toEqual([
      {
        vm: 'web',
        hostAddr: '127.0.0.1',
        hostPort: 8080,
        guestPort: 80,
        protocol: 'tcp',
        exposed: false,
        pending: false,
      },
      { vm: 'web', hostAddr: '0.0.0.0', hostPort: 5353, guestPort: 53, protocol: 'udp', exposed: true, pending: false },
    ]);
    const human = (await cli('port', 'ls', 'web')).stdout;
    expect(human).toMatch(/0\.0\.0\.0:5353\s+53\s+udp\s+reachable from the network/);
  });

  it('port add / rm on a stopped VM apply as they are; the same host socket twice is refused', async () => {
    const add = await cli('port', 'add', 'web', '2222:22', '--json');
    expect(add.code, add.stderr).toBe(0);
    expect(Port.parse(JSON.parse(add.stdout))).toMatchObject({ hostPort: 2222, guestPort: 22, pending: false });
    const again = await cli('port', 'add', 'web', '2222:23');
    expect(again.code).toBe(4);
    expect(again.stderr).toContain('The VM "web" already publishes the host port 127.0.0.1:2222/tcp (to its port 22)');
    // 0.0.0.0 would need the same socket as 127.0.0.1
    expect((await cli('port', 'add', 'web', '0.0.0.0:8080:81')).code).toBe(4);
    // another protocol is another socket
    expect((await cli('port', 'add', 'web', '2222:22/udp')).code).toBe(0);
    const ambiguous = await cli('port', 'rm', 'web', '2222');
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('publishes the host port 2222 more than once');
    expect((await cli('port', 'rm', 'web', '2222/udp')).code).toBe(0);
    expect((await cli('port', 'rm', 'web', '2222')).code).toBe(0);
    const gone = await cli('port', 'rm', 'web', '2222');
    expect(gone.code).toBe(3);
    expect(gone.stderr).toContain('The VM "web" publishes no host port 2222. See "oklinux port ls web".');
  });

  it('refuses a bad address, and ports on a VM with no network (nothing is created)', async () => {
    const bad = await cli('port', 'add', 'web', '300.1.1.1:9000:90');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('an IPv4 address such as 127.0.0.1');
    const none = await cli('create', 'dark', '--image', 'k', '--net', 'none', '--publish', '8081:80');
    expect(none.code).toBe(2);
    expect(none.stderr).toContain('The VM "dark" has no network (--net none), so it cannot publish ports.');
    const names = (JSON.parse((await cli('ls', '--json')).stdout) as { name: string }[]).map((v) => v.name);
    expect(names).toEqual(['web']);
  });

  it('--net takes only nat, none, restricted or tap:NAME', async () => {
    const r = await cli('create', 'odd', '--image', 'k', '--net', 'bridge');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/net/);
    expect(r.stderr).toContain('unknown network "bridge": use nat, restricted, none or tap:NAME');
  });
});
