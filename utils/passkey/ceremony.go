package passkey

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-redis/redis/v8"
	"github.com/go-webauthn/webauthn/webauthn"

	"go-jwt/global"
)

// CeremonyTTL is how long a begun ceremony can be finished (SPEC §12).
const CeremonyTTL = 5 * time.Minute

// Ceremony is a begun registration or sign-in: the id the client sends back
// to finish it, and the options for navigator.credentials (WebAuthn's JSON:
// binary fields base64url).
type Ceremony struct {
	ID        string `json:"challengeId"`
	PublicKey any    `json:"publicKey"`
}

// errNoCeremony: the challenge id is unknown, spent or expired.
var errNoCeremony = errors.New("challenge unknown, used already or expired")

// A registration's state is kept under the user's name, so only the user
// who began it can finish it; a sign-in's belongs to nobody yet.
func registrationKey(name, id string) string {
	return global.KeyPasskeyCeremony + "r:{" + name + "}:" + id
}
func loginKey(id string) string { return global.KeyPasskeyCeremony + "l:" + id }

// newCeremonyID is 16 random bytes, base64url: unguessable, so nobody can
// finish a ceremony they did not begin.
func newCeremonyID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return encode(b), nil
}

// save keeps the state of a begun ceremony for CeremonyTTL.
func (s *Store) save(ctx context.Context, key string, data *webauthn.SessionData) error {
	v, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return storeErr(s.rdb.Set(ctx, key, v, CeremonyTTL).Err())
}

// take returns the state of a ceremony and deletes it in the same command
// (GETDEL), so of two finishes with one challenge only one gets it: a
// challenge is used once, whatever the outcome.
func (s *Store) take(ctx context.Context, key string) (webauthn.SessionData, error) {
	var data webauthn.SessionData
	v, err := s.rdb.GetDel(ctx, key).Bytes()
	if errors.Is(err, redis.Nil) {
		return data, errNoCeremony
	}
	if err != nil {
		return data, storeErr(err)
	}
	if err := json.Unmarshal(v, &data); err != nil {
		return data, err
	}
	return data, nil
}
