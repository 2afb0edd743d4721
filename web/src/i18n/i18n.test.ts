import { describe, expect, it } from 'vitest'
import { detectLocale, messages, translate, type Messages } from '.'

function keys(tree: Messages, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    typeof v === 'string' ? [prefix + k] : keys(v, `${prefix}${k}.`),
  )
}

describe('i18n', () => {
  it('chooses the first browser language it speaks', () => {
    expect(detectLocale(['de-DE', 'fr-CA', 'en'])).toBe('fr')
    expect(detectLocale(['en-GB', 'fr'])).toBe('en')
    expect(detectLocale(['de', 'es'])).toBe('en')
    expect(detectLocale([])).toBe('en')
  })

  it('falls back to English, then to the key', () => {
    messages.xx = { nav: { explore: 'X' } }
    expect(translate('xx', 'nav.explore')).toBe('X')
    expect(translate('xx', 'nav.home')).toBe('Home')
    expect(translate('fr', 'no.such.key')).toBe('no.such.key')
    delete messages.xx
  })

  it('fills parameters and picks plurals by the language’s rules', () => {
    expect(translate('en', 'photo.likes', { n: 1 })).toBe('1 like')
    expect(translate('en', 'photo.likes', { n: 0 })).toBe('0 likes')
    expect(translate('fr', 'comments.title', { n: 0 })).toBe('0 commentaire')
    expect(translate('fr', 'comments.title', { n: 2 })).toBe('2 commentaires')
    expect(translate('fr', 'photo.by', { name: 'Ada' })).toBe('Photo de Ada')
  })

  it('has every English message in French', () => {
    const fr = new Set(keys(messages.fr!))
    expect(keys(messages.en!).filter((k) => !fr.has(k))).toEqual([])
  })
})
