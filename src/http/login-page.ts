const htmlEscapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for use in HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => htmlEscapes[character] ?? character);
}

/**
 * The admin sign-in page: a plain form posting to `/admin/login`. Every interpolated value is
 * escaped. It needs no CSRF token: there is no session to abuse before sign-in, and
 * cross-site sign-in attempts are refused by their `Sec-Fetch-Site` header.
 */
export function renderLoginPage(options: { email?: string; error?: string } = {}): string {
  const email = escapeHtml(options.email ?? '');
  const error = options.error === undefined ? '' : `<p class="error" role="alert">${escapeHtml(options.error)}</p>`;
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Sign in · drumbeat</title>
<style>
  body { font-family: system-ui, sans-serif; background: #f4f5f7; display: grid; place-items: center; min-height: 100vh; margin: 0; }
  form { background: #fff; padding: 2rem; border-radius: 8px; box-shadow: 0 1px 4px rgb(0 0 0 / 0.15); width: 20rem; display: grid; gap: 0.75rem; }
  h1 { font-size: 1.25rem; margin: 0 0 0.5rem; }
  input { font: inherit; padding: 0.5rem; border: 1px solid #c4c8cf; border-radius: 4px; }
  button { font: inherit; padding: 0.6rem; border: 0; border-radius: 4px; background: #1f6feb; color: #fff; cursor: pointer; }
  .error { color: #b42318; margin: 0; }
</style>
</head>
<body>
<form method="post" action="/admin/login">
  <h1>drumbeat admin</h1>
  ${error}
  <label for="email">Email</label>
  <input id="email" name="email" type="email" autocomplete="username" required value="${email}">
  <label for="password">Password</label>
  <input id="password" name="password" type="password" autocomplete="current-password" required>
  <button type="submit">Sign in</button>
</form>
</body>
</html>
`;
}
