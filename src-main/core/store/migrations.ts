/**
 * Versioned schema migrations. Migration N takes a database at version N-1 to N;
 * `PRAGMA user_version` records the version. Append only: never edit a
 * migration that has shipped.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the initial schema
  `
  CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL               -- JSON
  );

  CREATE TABLE catalog_sources (
    id         INTEGER PRIMARY KEY,
    kind       TEXT NOT NULL CHECK (kind IN ('github', 'manifest')),
    location   TEXT NOT NULL UNIQUE,
    body       TEXT,                  -- the manifest JSON as last loaded
    added_at   TEXT NOT NULL
  );

  CREATE TABLE http_cache (
    url        TEXT PRIMARY KEY,
    etag       TEXT,
    body       TEXT NOT NULL,
    fetched_at TEXT NOT NULL
  );

  CREATE TABLE artifacts (
    sha256     TEXT PRIMARY KEY CHECK (length(sha256) = 64),
    size       INTEGER NOT NULL CHECK (size >= 0),
    path       TEXT NOT NULL,
    origin     TEXT NOT NULL,         -- URL or local path it came from
    created_at TEXT NOT NULL
  );

  CREATE TABLE images (
    id           INTEGER PRIMARY KEY,
    ref          TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('oklinux-release', 'bundle', 'local')),
    version      TEXT NOT NULL,
    cmdline      TEXT NOT NULL DEFAULT '',
    installed_at TEXT NOT NULL
  );

  CREATE TABLE image_artifacts (
    image_id INTEGER NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    role     TEXT NOT NULL CHECK (role IN ('kernel', 'initrd', 'rootfs')),
    sha256   TEXT NOT NULL REFERENCES artifacts(sha256),
    PRIMARY KEY (image_id, role)
  );

  CREATE TABLE downloads (
    id              TEXT PRIMARY KEY,
    url             TEXT NOT NULL,
    dest            TEXT NOT NULL,
    part_path       TEXT NOT NULL,
    bytes_done      INTEGER NOT NULL DEFAULT 0 CHECK (bytes_done >= 0),
    total           INTEGER,
    etag            TEXT,
    last_modified   TEXT,
    expected_sha256 TEXT,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'running', 'failed', 'done', 'cancelled')),
    error           TEXT,
    updated_at      TEXT NOT NULL
  );

  CREATE TABLE vms (
    id             INTEGER PRIMARY KEY,
    name           TEXT NOT NULL UNIQUE,
    image_ref      TEXT NOT NULL,
    cpus           INTEGER NOT NULL CHECK (cpus > 0),
    memory_mib     INTEGER NOT NULL CHECK (memory_mib > 0),
    extra_cmdline  TEXT NOT NULL DEFAULT '',
    backend        TEXT NOT NULL CHECK (backend IN ('auto', 'bldy', 'qemu')),
    accel          TEXT NOT NULL CHECK (accel IN ('auto', 'kvm', 'tcg')),
    state          TEXT NOT NULL DEFAULT 'stopped'
                   CHECK (state IN ('stopped', 'starting', 'running', 'stopping', 'crashed')),
    pid            INTEGER,               -- the VMM
    supervisor_pid INTEGER,               -- the process that owns its console
    control_socket TEXT,
    argv           TEXT,                  -- JSON array, as started
    started_at     TEXT,
    exit_code      INTEGER,
    exit_signal    TEXT,
    last_error     TEXT,
    root_dir       TEXT,
    created_at     TEXT NOT NULL
  );

  CREATE TABLE shares (
    id         INTEGER PRIMARY KEY,
    vm_id      INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    host_path  TEXT NOT NULL,
    tag        TEXT NOT NULL CHECK (length(tag) BETWEEN 1 AND 31),
    read_only  INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    guest_path TEXT NOT NULL,
    pending    INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1)),
    UNIQUE (vm_id, tag),
    UNIQUE (vm_id, host_path)
  );

  CREATE TABLE events (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    kind    TEXT NOT NULL,
    subject TEXT,
    data    TEXT                  -- JSON
  );
  CREATE INDEX events_subject ON events(subject, id);
  `,
  // 2: a VM whose shares changed while it ran needs a restart for them to apply
  `
  ALTER TABLE vms ADD COLUMN restart_needed INTEGER NOT NULL DEFAULT 0 CHECK (restart_needed IN (0, 1));
  -- the digest of a finished download, and a label for people ("kernel of kernel-6.6-abc")
  ALTER TABLE downloads ADD COLUMN sha256 TEXT;
  ALTER TABLE downloads ADD COLUMN label TEXT NOT NULL DEFAULT '';
  `,
  // 3: the digest of each VMM the app installed into bin/, checked before every start.
  // Backfilled from the install event (which recorded it) for a bldy installed before.
  `
  CREATE TABLE installed_vmms (
    name         TEXT PRIMARY KEY,     -- the file name in bin/ ('bldy')
    sha256       TEXT NOT NULL CHECK (length(sha256) = 64),
    version      TEXT NOT NULL,
    installed_at TEXT NOT NULL
  );
  INSERT INTO installed_vmms(name, sha256, version, installed_at)
    SELECT subject, json_extract(data, '$.sha256'), coalesce(json_extract(data, '$.version'), ''), at
    FROM events
    WHERE kind = 'vmm.installed' AND subject = 'bldy' AND length(json_extract(data, '$.sha256')) = 64
    ORDER BY id DESC LIMIT 1;
  `,
  // 4: which member was extracted from which archive, so a second pull reuses it. Before, this was
  // found by scanning the last rows of the event log, where it silently expired; backfilled from it.
  `
  CREATE TABLE extractions (
    from_sha256  TEXT NOT NULL CHECK (length(from_sha256) = 64),  -- the archive
    member       TEXT NOT NULL,                                   -- the path inside it
    sha256       TEXT NOT NULL CHECK (length(sha256) = 64),       -- what was extracted
    extracted_at TEXT NOT NULL,
    PRIMARY KEY (from_sha256, member)
  );
  INSERT OR REPLACE INTO extractions(from_sha256, member, sha256, extracted_at)
    SELECT json_extract(data, '$.from'), json_extract(data, '$.member'), json_extract(data, '$.sha256'), at
    FROM events
    WHERE kind = 'artifact.extracted' AND length(json_extract(data, '$.from')) = 64
      AND json_extract(data, '$.member') IS NOT NULL AND length(json_extract(data, '$.sha256')) = 64
    ORDER BY id;
  `,
  // 5: each VM's network (QEMU user-mode NAT by default). VMs set to bldy, which has no user-mode
  // networking, keep booting as before: no network. And the ports a VM publishes on the host.
  `
  ALTER TABLE vms ADD COLUMN net TEXT NOT NULL DEFAULT 'nat' CHECK (net IN ('nat', 'none', 'restricted'));
  UPDATE vms SET net = 'none' WHERE backend = 'bldy';

  CREATE TABLE ports (
    id         INTEGER PRIMARY KEY,
    vm_id      INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    host_addr  TEXT NOT NULL,
    host_port  INTEGER NOT NULL CHECK (host_port BETWEEN 1 AND 65535),
    guest_port INTEGER NOT NULL CHECK (guest_port BETWEEN 1 AND 65535),
    protocol   TEXT NOT NULL CHECK (protocol IN ('tcp', 'udp')),
    pending    INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1)),
    UNIQUE (vm_id, protocol, host_addr, host_port)
  );
  `,
  // 6: a VM on a TAP device the user made (--net tap:NAME; net stays 'none', which the CHECK above allows,
  // so the vms table need not be rebuilt), and remote 9p shares (9p://HOST:PORT/ANAME), mounted by the
  // guest over the VM's network through the supervisor's relay. state/problem: how the last mount went.
  `
  ALTER TABLE vms ADD COLUMN net_tap TEXT CHECK (net_tap IS NULL OR (length(net_tap) BETWEEN 1 AND 15 AND net = 'none'));

  CREATE TABLE remote_shares (
    id         INTEGER PRIMARY KEY,
    vm_id      INTEGER NOT NULL REFERENCES vms(id) ON DELETE CASCADE,
    tag        TEXT NOT NULL,
    url        TEXT NOT NULL,
    guest_path TEXT NOT NULL,
    read_only  INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
    pending    INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1)),
    state      TEXT NOT NULL DEFAULT 'idle' CHECK (state IN ('idle', 'mounting', 'mounted', 'unreachable', 'failed')),
    problem    TEXT,
    UNIQUE (vm_id, tag),
    UNIQUE (vm_id, url)
  );
  `,
  // 7: ext4 root disks (#11): the image a VM boots instead of a 9p root, the user's image it was copied from
  // (create --root-disk without --rw), and the format of an installed bundle's rootfs (tar.gz, or an ext4 image).
  `
  ALTER TABLE vms ADD COLUMN root_disk TEXT;
  ALTER TABLE vms ADD COLUMN root_disk_source TEXT;
  ALTER TABLE images ADD COLUMN rootfs_format TEXT;
  `,
  // 8: JetStream shares (9p+quic://HOST:PORT/ANAME, #12 item 5): the realpaths of their TLS files, never the
  // contents (the supervisor reads them itself at each connection). A CA for every 9p+quic share; a client
  // certificate and key together or not at all; none for 9p:// shares.
  `
  ALTER TABLE remote_shares ADD COLUMN tls_ca TEXT CHECK (tls_ca IS NULL OR length(tls_ca) > 0);
  ALTER TABLE remote_shares ADD COLUMN tls_cert TEXT CHECK (tls_cert IS NULL OR tls_ca IS NOT NULL);
  ALTER TABLE remote_shares ADD COLUMN tls_key TEXT CHECK ((tls_key IS NULL) = (tls_cert IS NULL));
  `,
  // 9: QEMU's machine (#11 item 6). vms.machine is a VM's override (pc or microvm; NULL: chosen from its image);
  // images.virtio_mmio says the image's kernel has virtio-mmio built in (okLinux's), so QEMU may boot it on microvm.
  `
  ALTER TABLE vms ADD COLUMN machine TEXT CHECK (machine IS NULL OR machine IN ('pc', 'microvm'));
  ALTER TABLE images ADD COLUMN virtio_mmio INTEGER NOT NULL DEFAULT 0 CHECK (virtio_mmio IN (0, 1));
  -- okLinux release kernels force VIRTIO_MMIO on; a bundle installed earlier learns it at its next pull
  UPDATE images SET virtio_mmio = 1 WHERE kind = 'oklinux-release';
  `,
  // 10: the address the guest reports for itself at boot (#12: oklinux-init's "net IFACE ADDR/PREFIX via GW" line,
  // parsed strictly by the supervisor); NULL while it has not said, and once the VM stops.
  `
  ALTER TABLE vms ADD COLUMN guest_address TEXT CHECK (guest_address IS NULL OR length(guest_address) <= 18);
  `,
];

export const SCHEMA_VERSION = MIGRATIONS.length;
