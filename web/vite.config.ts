/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

// The node the dev server talks to; the built UI is served by the node itself (same origin).
const node = process.env.PEERPX_NODE ?? 'http://127.0.0.1:8099'

// Paths the node answers. `/oauth/callback` is deliberately absent: it is a page of this app.
const nodePaths = [
  '/api',
  '^/oauth/(authorize|token|revoke)',
  '/ipfs',
  '/system',
  '/avatars',
  '/headers',
  '/nodeinfo',
  '/.well-known',
]

export default defineConfig({
  base: '/',
  plugins: [vue()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    proxy: Object.fromEntries(nodePaths.map((p) => [p, { target: node }])),
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.test.ts'],
  },
})
