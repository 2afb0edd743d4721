// Who is signed in (token and account) and what the node says about itself.

import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import * as api from '../api'
import type { CredentialAccount, Instance } from '../api'
import { revoke } from '../auth/oauth'

const KEY = 'peerpx.session'

interface Saved {
  token: string
  scope: string
}

function load(): Saved | null {
  try {
    return JSON.parse(localStorage.getItem(KEY) ?? 'null') as Saved | null
  } catch {
    return null
  }
}

export const useSession = defineStore('session', () => {
  const saved = load()
  const token = ref<string | null>(saved?.token ?? null)
  const scope = ref<string>(saved?.scope ?? '')
  const me = ref<CredentialAccount | null>(null)
  const instance = ref<Instance | null>(null)

  api.useToken(() => token.value)

  const signedIn = computed(() => token.value !== null && me.value !== null)
  /** Staff have a role other than the default user's (Mastodon gives that one id -99). */
  const isStaff = computed(() => !!me.value?.role && me.value.role.id !== '-99')
  const hasAdminScope = computed(() => scope.value.split(' ').includes('admin:read'))

  async function loadInstance(): Promise<Instance> {
    instance.value = await api.instance()
    return instance.value
  }

  /** Loads the account behind the saved token; a token the node refuses is forgotten. */
  async function restore(): Promise<void> {
    if (!token.value) return
    try {
      me.value = await api.verifyCredentials()
    } catch (e) {
      if (e instanceof api.ApiError && (e.status === 401 || e.status === 403)) forget()
      else throw e
    }
  }

  async function signIn(newToken: string, newScope: string): Promise<CredentialAccount> {
    const account = await api.verifyCredentials(newToken)
    token.value = newToken
    scope.value = newScope
    me.value = account
    localStorage.setItem(KEY, JSON.stringify({ token: newToken, scope: newScope }))
    return account
  }

  function forget(): void {
    token.value = null
    scope.value = ''
    me.value = null
    localStorage.removeItem(KEY)
  }

  async function signOut(): Promise<void> {
    const old = token.value
    forget()
    // The token is forgotten here whatever the node says; revoking is a courtesy to it.
    if (old) await revoke(old).catch(() => undefined)
  }

  return {
    token,
    scope,
    me,
    instance,
    signedIn,
    isStaff,
    hasAdminScope,
    loadInstance,
    restore,
    signIn,
    signOut,
    forget,
  }
})
