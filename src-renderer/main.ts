/**
 * This folder (src-renderer/) is the UI (Svelte 5), the same in Electron and in a browser. It reaches
 * the engine through `window.oklinux` (the preload) or the WebSocket client, both derived from the
 * contract, and imports nothing from src-main/ but contract/.
 */
import { mount } from 'svelte';
import App from './App.svelte';
import './app.css';

mount(App, { target: document.getElementById('app')! });
