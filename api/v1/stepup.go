package v1

import (
	"context"
	"fmt"
	"slices"

	"go-jwt/global"
	"go-jwt/utils"
)

// TOTPState says whether a user has TOTP on (mfa.Store).
type TOTPState interface {
	Enabled(ctx context.Context, user string) (bool, error)
}

// StepUp is the rule for adding a second factor (TOTP enroll and confirm,
// passkey registration begin and finish): a user who has one already (TOTP
// on, or a passkey) adds another only from a session opened with one (amr
// otp or hwk). Else a stolen password would be enough to plant the thief's
// own factor and pass ADMIN_MFA with it. A user with no factor yet enrolls
// the first with the password alone: that is how ADMIN_MFA is bootstrapped.
type StepUp struct {
	TOTP     TOTPState
	Passkeys PasskeyCounter
}

// Check returns nil if the session of claims may add a second factor;
// global.ErrMFARequired (403 mfa_required) if the user has one and the
// session was not opened with it; a Redis failure as it is (503).
func (s StepUp) Check(ctx context.Context, claims *utils.Claims) error {
	if slices.Contains(claims.AMR, global.AMROTP) || slices.Contains(claims.AMR, global.AMRHardwareKey) {
		return nil
	}
	on, err := s.TOTP.Enabled(ctx, claims.Username)
	if err == nil && !on {
		var n int
		n, err = s.Passkeys.Count(ctx, claims.Username)
		on = n > 0
	}
	if err == nil && on {
		err = fmt.Errorf("%w: sign in with your second factor to add another", global.ErrMFARequired)
	}
	return err
}
