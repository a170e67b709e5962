import { defineConfig } from 'vitest/config';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const r = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  // Compiles .svelte components for the renderer's component tests (jsdom, per file).
  plugins: [svelte({ configFile: false })],
  resolve: {
    // jsdom tests (Vite's client environment) get Svelte's browser build; node tests are unaffected.
    conditions: ['browser'],
    alias: [
      { find: /^@core\/(.*)$/, replacement: r('./src-main/core/$1') },
      { find: /^@contract$/, replacement: r('./src-main/contract/index.ts') },
      { find: /^@contract\/(.*)$/, replacement: r('./src-main/contract/$1') },
      { find: /^@renderer\/(.*)$/, replacement: r('./src-renderer/$1') },
    ],
  },
  test: {
    include: ['test/**/*.test.ts', 'src-main/**/*.test.ts'],
    // builds the okLinux-shaped test kernel once per machine (cached outside the clone) before any test
    globalSetup: ['test/setup/oklinux-kernel.ts'],
    testTimeout: 180_000,
    hookTimeout: 300_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
