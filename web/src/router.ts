// The app's pages. Every path here must be answered with index.html by the node (see
// web/README.md); pages are loaded on demand so the first one shows quickly.

import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { useSession } from './stores/session'

const routes: RouteRecordRaw[] = [
  { path: '/', name: 'root', component: () => import('./pages/ExplorePage.vue') },
  { path: '/explore', name: 'explore', component: () => import('./pages/ExplorePage.vue') },
  { path: '/tags/:tag', name: 'tag', component: () => import('./pages/TagPage.vue') },
  {
    path: '/home',
    name: 'home',
    component: () => import('./pages/HomePage.vue'),
    meta: { auth: true },
  },
  {
    path: '/notifications',
    name: 'notifications',
    component: () => import('./pages/NotificationsPage.vue'),
    meta: { auth: true },
  },
  {
    path: '/upload',
    name: 'upload',
    component: () => import('./pages/UploadPage.vue'),
    meta: { auth: true },
  },
  {
    path: '/settings/profile',
    name: 'edit-profile',
    component: () => import('./pages/EditProfilePage.vue'),
    meta: { auth: true },
  },
  {
    path: '/admin',
    name: 'admin',
    component: () => import('./pages/AdminPage.vue'),
    meta: { auth: true },
  },
  { path: '/search', name: 'search', component: () => import('./pages/SearchPage.vue') },
  // Mastodon's remote-follow entry point: another node sends its visitor here with the actor
  // URL of the account to follow; searching it (resolved when signed in) shows a follow button.
  {
    path: '/authorize_interaction',
    redirect: (to) => ({ name: 'search', query: { q: String(to.query.uri ?? '') } }),
  },
  { path: '/signin', name: 'signin', component: () => import('./pages/SignInPage.vue') },
  { path: '/register', name: 'register', component: () => import('./pages/RegisterPage.vue') },
  {
    path: '/oauth/callback',
    name: 'oauth-callback',
    component: () => import('./pages/OAuthCallbackPage.vue'),
  },
  { path: '/@:user', name: 'profile', component: () => import('./pages/ProfilePage.vue') },
  {
    path: '/@:user/:list(followers|following)',
    name: 'follows',
    component: () => import('./pages/FollowsPage.vue'),
  },
  { path: '/@:user/:id(\\d+)', name: 'photo', component: () => import('./pages/PhotoPage.vue') },
  { path: '/:rest(.*)*', name: 'not-found', component: () => import('./pages/NotFoundPage.vue') },
]

export const router = createRouter({
  history: createWebHistory('/'),
  routes,
  scrollBehavior: (_to, _from, saved) => saved ?? { top: 0 },
})

router.beforeEach((to) => {
  if (to.meta.auth && !useSession().signedIn) {
    return { path: '/signin', query: { next: to.fullPath } }
  }
})

// Move focus to the page's content after navigating, as a full page load would.
router.afterEach((to, from) => {
  if (from.matched.length && to.path !== from.path) {
    requestAnimationFrame(() => document.getElementById('main')?.focus({ preventScroll: true }))
  }
})
