// A tiny i18n: nested message objects, `{name}` parameters, plurals as "one | other" chosen by
// Intl.PluralRules, and a fallback to English, then to the key itself.

import { ref, watch } from 'vue'
import en from './en'
import fr from './fr'

export interface Messages {
  [key: string]: string | Messages
}

export const messages: Record<string, Messages> = { en, fr }
export type Locale = 'en' | 'fr'
export const LOCALES: Locale[] = ['en', 'fr']
const FALLBACK: Locale = 'en'
const KEY = 'peerpx.locale'

/** The first of the browser's languages we speak (`fr-CA` counts as `fr`), else English. */
export function detectLocale(languages: readonly string[] = navigator.languages ?? []): Locale {
  for (const tag of languages) {
    const base = tag.toLowerCase().split('-')[0] as Locale
    if (LOCALES.includes(base)) return base
  }
  return FALLBACK
}

function initial(): Locale {
  try {
    const saved = localStorage.getItem(KEY) as Locale | null
    if (saved && LOCALES.includes(saved)) return saved
  } catch {
    /* storage unavailable: use the browser's language */
  }
  return detectLocale()
}

export const locale = ref<Locale>(initial())

watch(
  locale,
  (l) => {
    document.documentElement.lang = l
  },
  { immediate: true },
)

/** Chooses a language for good (the browser's is only the default). */
export function setLocale(l: Locale): void {
  locale.value = l
  localStorage.setItem(KEY, l)
}

function lookup(tree: Messages | undefined, key: string): string | undefined {
  let node: string | Messages | undefined = tree
  for (const part of key.split('.')) {
    if (!node || typeof node === 'string') return undefined
    node = node[part]
  }
  return typeof node === 'string' ? node : undefined
}

export type Params = Record<string, string | number>

/** Translates `key` into `loc`; `params.n` picks the plural form. */
export function translate(loc: string, key: string, params?: Params): string {
  let text = lookup(messages[loc], key) ?? lookup(messages[FALLBACK], key) ?? key
  if (text.includes('|') && params && typeof params.n === 'number') {
    const forms = text.split('|').map((f) => f.trim())
    const one = new Intl.PluralRules(loc).select(params.n) === 'one'
    text = (one ? forms[0] : forms[forms.length - 1]) ?? text
  }
  if (params) {
    text = text.replace(/\{(\w+)\}/g, (whole, name: string) =>
      name in params ? String(params[name]) : whole,
    )
  }
  return text
}

/** Translates into the current language (reactive: templates re-render when it changes). */
export function t(key: string, params?: Params): string {
  return translate(locale.value, key, params)
}
