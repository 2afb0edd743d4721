// Applies the saved theme before the first paint, so a dark page never flashes white. A file
// rather than an inline script, so the node can forbid inline scripts in its CSP.
try {
  var saved = localStorage.getItem('peerpx.theme')
  if (saved === 'light' || saved === 'dark') document.documentElement.dataset.theme = saved
} catch (e) {
  /* storage unavailable: follow the system */
}
