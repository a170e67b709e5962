/**
 * undici loads on the first request, never as a static import (core/download/undici.ts): loading it costs
 * about 120 ms of CPU that `oklinux start` of a pulled image would otherwise take from the guest's boot.
 * Read with TypeScript's parser over every file of src-main; type-only imports load nothing.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SRC, runtimeImports, walk } from '../helpers/imports';
import { ProxyDispatcher } from '@core/download/proxy';
import { loadUndici } from '@core/download/undici';
import { startTestServer } from '../helpers/http';

describe('undici', () => {
  it('is imported statically by no file of src-main', () => {
    const files = walk(SRC, ['.ts']);
    expect(files.length).toBeGreaterThan(50);
    expect(files.filter((f) => runtimeImports(f).includes('undici')).map((f) => path.relative(SRC, f))).toEqual([]);
  });

  it('carries a request through a ProxyDispatcher once loaded (the duck-typed dispatcher undici calls)', async () => {
    const server = await startTestServer();
    server.route('/x', { body: Buffer.from('hello') });
    const d = new ProxyDispatcher(() => ({ proxy: null, env: {} }), { tunnel: false });
    try {
      const { request } = await loadUndici();
      const res = await request(server.url('/x'), { dispatcher: d.asDispatcher() });
      expect(res.statusCode).toBe(200);
      expect(await res.body.text()).toBe('hello');
    } finally {
      await d.close();
      await server.close();
    }
  });
});
