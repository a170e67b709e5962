import { defineConfig } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { fileURLToPath } from 'node:url';

const r = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// The renderer: Svelte 5, built to dist/renderer and served by Electron (file://)
// or by the browser host (`oklinux serve`).
export default defineConfig({
  root: r('./src-renderer'),
  base: './',
  plugins: [svelte()],
  resolve: {
    alias: [
      { find: /^@contract$/, replacement: r('./src-main/contract/index.ts') },
      { find: /^@contract\/(.*)$/, replacement: r('./src-main/contract/$1') },
      { find: /^@core\/(.*)$/, replacement: r('./src-main/core/$1') },
      { find: /^@renderer\/(.*)$/, replacement: r('./src-renderer/$1') },
    ],
  },
  build: {
    outDir: r('./dist/renderer'),
    emptyOutDir: true,
    target: 'chrome120',
  },
});
