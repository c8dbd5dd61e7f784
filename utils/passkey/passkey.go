// Package passkey is the service's WebAuthn relying party (SPEC §12): it
// registers passkeys for signed-in users and signs users in with them
// without a username, on github.com/go-webauthn/webauthn, with the
// credentials and the state of begun ceremonies in Redis (store.go,
// ceremony.go).
//
// Every passkey is discoverable (resident key required) and every ceremony
// requires user verification, so a passkey alone is two factors: the device
// and its PIN or biometric.
package passkey

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"go-jwt/global"
)

// Config is the relying party: its id (a domain), the name authenticators
// show, and the origins ceremonies may come from.
type Config struct {
	RPID    string
	RPName  string
	Origins []string
}

// maxName bounds a passkey's name, in characters.
const maxName = 64

// RP runs the ceremonies.
type RP struct {
	wa    *webauthn.WebAuthn
	store *Store
	now   func() time.Time
}

// New returns the relying party of cfg on store; now is the clock.
func New(cfg Config, store *Store, now func() time.Time) (*RP, error) {
	required := true
	wa, err := webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: cfg.RPName,
		RPOrigins:     cfg.Origins,
		// No attestation: the service trusts no authenticator maker, and
		// "none" asks for nothing that could identify the device.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: &required,
			UserVerification:   protocol.VerificationRequired,
		},
		// The browser is told 5 minutes, the time the state lives in Redis;
		// expiry is Redis's TTL, not the library's clock.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: CeremonyTTL, TimeoutUVD: CeremonyTTL},
		},
	})
	if err != nil {
		return nil, err
	}
	return &RP{wa: wa, store: store, now: now}, nil
}

// user is a service user as go-webauthn sees one.
type user struct {
	handle []byte
	name   string
	creds  []webauthn.Credential
}

func (u *user) WebAuthnID() []byte                         { return u.handle }
func (u *user) WebAuthnName() string                       { return u.name }
func (u *user) WebAuthnDisplayName() string                { return u.name }
func (u *user) WebAuthnCredentials() []webauthn.Credential { return u.creds }

// loadUser reads name's handle (made the first time) and credentials.
func (rp *RP) loadUser(ctx context.Context, name string) (*user, error) {
	handle, err := rp.store.Handle(ctx, name)
	if err != nil {
		return nil, err
	}
	creds, err := rp.store.credentials(ctx, name)
	if err != nil {
		return nil, err
	}
	return &user{handle: handle, name: name, creds: creds}, nil
}

// BeginRegistration starts adding a passkey for the signed-in user name. The
// user's passkeys are excluded, so one authenticator is not registered twice.
func (rp *RP) BeginRegistration(ctx context.Context, name string) (Ceremony, error) {
	u, err := rp.loadUser(ctx, name)
	if err != nil {
		return Ceremony{}, err
	}
	if len(u.creds) >= MaxPerUser {
		return Ceremony{}, global.ErrTooManyPasskeys
	}
	creation, data, err := rp.wa.BeginRegistration(u,
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()))
	if err != nil {
		return Ceremony{}, err
	}
	return rp.begin(ctx, func(id string) string { return registrationKey(name, id) }, data, creation.Response)
}

// begin keeps the state of a new ceremony under a fresh id.
func (rp *RP) begin(ctx context.Context, key func(id string) string, data *webauthn.SessionData, options any) (Ceremony, error) {
	id, err := newCeremonyID()
	if err != nil {
		return Ceremony{}, err
	}
	if err := rp.store.save(ctx, key(id), data); err != nil {
		return Ceremony{}, err
	}
	return Ceremony{ID: id, PublicKey: options}, nil
}

// FinishRegistration checks the new credential (as
// PublicKeyCredential.toJSON() gives it) against the ceremony challengeID
// of name and stores it as label. A bad credential, a spent or expired
// challenge, a wrong origin or a missing user verification is
// global.ErrPasskeyInvalid (wrapping the reason).
func (rp *RP) FinishRegistration(ctx context.Context, name, challengeID, label string, credential []byte) (Passkey, error) {
	label, err := validName(label)
	if err != nil {
		return Passkey{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(credential)
	if err != nil {
		return Passkey{}, fmt.Errorf("%w: credential is not a WebAuthn registration: %v", global.ErrInvalidRequest, err)
	}
	handle, c, err := rp.verifyRegistration(ctx, name, challengeID, parsed)
	if errors.Is(err, global.ErrStoreUnavailable) {
		return Passkey{}, err
	}
	if err != nil {
		return Passkey{}, fmt.Errorf("%w: %v", global.ErrPasskeyInvalid, reason(err))
	}
	return rp.store.add(ctx, name, label, handle, c, rp.now())
}

// verifyRegistration spends the ceremony and checks the credential against
// it: the user handle it was checked against, and the credential.
func (rp *RP) verifyRegistration(ctx context.Context, name, challengeID string, parsed *protocol.ParsedCredentialCreationData) ([]byte, *webauthn.Credential, error) {
	data, err := rp.store.take(ctx, registrationKey(name, challengeID))
	if err != nil {
		return nil, nil, err
	}
	u, err := rp.loadUser(ctx, name)
	if err != nil {
		return nil, nil, err
	}
	c, err := rp.wa.CreateCredential(u, data, parsed)
	return u.handle, c, err
}

// BeginLogin starts a usernameless sign-in: no credential is named, the
// authenticator offers the passkeys it holds for this RP ID.
func (rp *RP) BeginLogin(ctx context.Context) (Ceremony, error) {
	assertion, data, err := rp.wa.BeginDiscoverableLogin()
	if err != nil {
		return Ceremony{}, err
	}
	return rp.begin(ctx, loginKey, data, assertion.Response)
}

// FinishLogin checks an assertion (as PublicKeyCredential.toJSON() gives
// it) against the ceremony challengeID and returns the name of the user it
// signs in. Every failure of the credential is global.ErrPasskeyRefused
// (wrapping the reason): an unknown or deleted credential, a bad signature,
// a spent or expired challenge, another origin or RP ID, no user
// verification, a sign count that did not go forward. A Redis failure stays
// global.ErrStoreUnavailable.
func (rp *RP) FinishLogin(ctx context.Context, challengeID string, credential []byte) (string, error) {
	parsed, err := protocol.ParseCredentialRequestResponseBytes(credential)
	if err != nil {
		return "", fmt.Errorf("%w: credential is not a WebAuthn assertion: %v", global.ErrInvalidRequest, err)
	}
	name, err := rp.finishLogin(ctx, challengeID, parsed)
	if err == nil || errors.Is(err, global.ErrStoreUnavailable) {
		return name, err
	}
	return "", fmt.Errorf("%w: %v", global.ErrPasskeyRefused, reason(err))
}

func (rp *RP) finishLogin(ctx context.Context, challengeID string, parsed *protocol.ParsedCredentialAssertionData) (string, error) {
	data, err := rp.store.take(ctx, loginKey(challengeID))
	if err != nil {
		return "", err
	}
	var lookupErr error // the library wraps what the handler returns; keep ours
	find := func(_, handle []byte) (webauthn.User, error) {
		name, err := rp.store.UserByHandle(ctx, handle)
		if err == nil {
			var creds []webauthn.Credential
			if creds, err = rp.store.credentials(ctx, name); err == nil {
				return &user{handle: handle, name: name, creds: creds}, nil
			}
		}
		if !errors.Is(err, global.ErrNotFound) {
			lookupErr = err
		}
		return nil, errors.New("no user has this passkey")
	}
	found, c, err := rp.wa.ValidatePasskeyLogin(find, data, parsed)
	switch {
	case lookupErr != nil:
		return "", lookupErr
	case err != nil:
		return "", err
	case c.Authenticator.CloneWarning:
		return "", errCounter
	}
	name := found.WebAuthnName()
	if err := rp.store.used(ctx, name, c.ID, c.Authenticator.SignCount, rp.now()); err != nil {
		return "", err
	}
	return name, nil
}

// List returns the user's passkeys, newest first.
func (rp *RP) List(ctx context.Context, name string) ([]Passkey, error) {
	return rp.store.List(ctx, name)
}

// Delete removes one of the user's passkeys (global.ErrNotFound if the user
// has none with that id).
func (rp *RP) Delete(ctx context.Context, name, id string) error {
	return rp.store.Delete(ctx, name, id)
}

// reason is the text of a ceremony failure for the log: go-webauthn's errors
// say what failed in DevInfo.
func reason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.DevInfo != "" {
		return pe.Details + ": " + pe.DevInfo
	}
	return err.Error()
}

// validName trims a passkey's name and checks it: at most maxName
// characters, no control characters; empty becomes "Passkey".
func validName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "Passkey", nil
	}
	if utf8.RuneCountInString(s) > maxName || !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: name must be at most %d characters", global.ErrInvalidRequest, maxName)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: name must not hold control characters", global.ErrInvalidRequest)
		}
	}
	return s, nil
}
