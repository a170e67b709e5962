// Downloads one artifact through the real Downloader, for the SIGKILL resume test.
// Usage: node --import tsx test/download/kill-child.ts <root> <state.json> <url> <sha256>
import { Downloader } from '../../src-main/core/download/index';
import { JsonStateStore } from '../helpers/json-state-store';

const [root, stateFile, url, sha256] = process.argv.slice(2) as [string, string, string, string];
const d = new Downloader({ root, state: new JsonStateStore(stateFile), writeBatchBytes: 64 * 1024 });
await d.download({ url, sha256 });
await d.close();
