// Light and dark themes: the system's choice by default, or the one the person picked.

import { ref, watch } from 'vue'

export type Theme = 'auto' | 'light' | 'dark'
const KEY = 'peerpx.theme'

function saved(): Theme {
  try {
    const t = localStorage.getItem(KEY)
    return t === 'light' || t === 'dark' ? t : 'auto'
  } catch {
    return 'auto'
  }
}

export const theme = ref<Theme>(saved())

watch(
  theme,
  (t) => {
    const root = document.documentElement
    if (t === 'auto') {
      delete root.dataset.theme
      localStorage.removeItem(KEY)
    } else {
      root.dataset.theme = t
      localStorage.setItem(KEY, t)
    }
  },
  { immediate: true },
)

/** The theme in effect now, resolving `auto` through the system's preference. */
export function effectiveTheme(): 'light' | 'dark' {
  if (theme.value !== 'auto') return theme.value
  return matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light'
}

/** Switches to the other theme than the one in effect. */
export function toggleTheme(): void {
  theme.value = effectiveTheme() === 'dark' ? 'light' : 'dark'
}
