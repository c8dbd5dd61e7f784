package passkey

import (
	"context"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
)

// Add is add, for the external tests: the step of a registration that
// stores the credential checked against handle.
func (s *Store) Add(ctx context.Context, name, label string, handle []byte, c *webauthn.Credential, now time.Time) (Passkey, error) {
	return s.add(ctx, name, label, handle, c, now)
}
