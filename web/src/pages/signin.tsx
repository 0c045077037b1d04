import { useState } from 'preact/hooks';
import { session, tokenWorks } from '../api.js';
import { useTitle } from '../title.js';
import { ErrorLine, Field } from '../ui.js';

export function SignInPage({ onSignedIn }: { onSignedIn: () => void }) {
  useTitle('Sign in');
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | undefined>(undefined);
  const [busy, setBusy] = useState(false);
  return (
    <main id="main" class="signin">
      <h1>chatrelay</h1>
      <p>
        Sign in with the admin token (<code>ADMIN_TOKEN</code>). The local stack keeps it in{' '}
        <code>.data/admin-token</code>: <code>cat .data/admin-token</code>.
      </p>
      <form
        onSubmit={(event) => {
          event.preventDefault();
          setBusy(true);
          setError(undefined);
          tokenWorks(token.trim())
            .then((works) => {
              if (!works) {
                setError('That admin token was refused. Check it and try again.');
                return;
              }
              session.signIn(token.trim());
              onSignedIn();
            })
            .catch(() => setError('The API cannot be reached.'))
            .finally(() => setBusy(false));
        }}
      >
        <Field label="Admin token" hint="Kept for this tab only.">
          <input
            type="password"
            name="admin-token"
            autoComplete="current-password"
            required
            value={token}
            onInput={(event) => setToken(event.currentTarget.value)}
          />
        </Field>
        <ErrorLine message={error} />
        <button type="submit" disabled={busy || token.trim() === ''}>
          Sign in
        </button>
      </form>
    </main>
  );
}
