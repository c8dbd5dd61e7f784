package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"
)

// Authenticator is a software WebAuthn authenticator for tests: ECDSA P-256
// keys, attestation "none", discoverable credentials, and a browser's part
// too (clientDataJSON with an origin). It answers the options the service
// sends ({"publicKey":{…}}) with what PublicKeyCredential.toJSON() gives.
type Authenticator struct {
	// Origin is the page's origin written into clientDataJSON.
	Origin string
	// Creds are the credentials it made, newest last.
	Creds []*SoftCredential
}

// SoftCredential is one credential of an Authenticator.
type SoftCredential struct {
	ID         []byte
	Key        *ecdsa.PrivateKey
	RPID       string
	UserHandle []byte
	// Count is the signature counter, sent plus one on the next assertion.
	Count uint32
}

// Tweak is what a hostile or broken client changes in one answer.
type Tweak struct {
	// Origin, when set, replaces the authenticator's (a phishing page).
	Origin string
	// RPID, when set, is the RP ID whose hash the authenticator data holds.
	RPID string
	// NoUV clears the user-verified flag.
	NoUV bool
	// Count, when set, is the counter sent instead of the next one.
	Count *uint32
	// BadSignature spoils the signature.
	BadSignature bool
	// Cred, when set, signs instead of the newest credential.
	Cred *SoftCredential
	// Challenge, when set, replaces the options' challenge (base64url).
	Challenge string
}

// NewAuthenticator returns an authenticator on a page of origin.
func NewAuthenticator(origin string) *Authenticator { return &Authenticator{Origin: origin} }

// options is what the authenticator reads of creation or request options.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RP        struct {
			ID string `json:"id"`
		} `json:"rp"`
		RPID string `json:"rpId"`
		User struct {
			ID string `json:"id"`
		} `json:"user"`
	} `json:"publicKey"`
}

func readOptions(t testing.TB, raw []byte) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(raw, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("not WebAuthn options: %v %s", err, raw)
	}
	return o
}

var b64 = base64.RawURLEncoding

// Flags of authenticator data (WebAuthn §6.1).
const (
	flagUP = 0x01
	flagUV = 0x04
	flagAT = 0x40
)

// Create makes a new credential for the creation options raw: the JSON of
// a registration's begin answer. It returns the credential's JSON.
func (a *Authenticator) Create(t testing.TB, raw []byte, tw Tweak) []byte {
	t.Helper()
	o := readOptions(t, raw)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	handle, err := b64.DecodeString(o.PublicKey.User.ID)
	if err != nil {
		t.Fatalf("user.id is not base64url: %v", err)
	}
	c := &SoftCredential{ID: random(t, 16), Key: key, RPID: o.PublicKey.RP.ID, UserHandle: handle}
	a.Creds = append(a.Creds, c)

	pub, err := webauthncbor.Marshal(map[int64]any{
		1: int64(2), 3: int64(-7), -1: int64(1), // EC2, ES256, P-256
		-2: key.X.FillBytes(make([]byte, 32)), -3: key.Y.FillBytes(make([]byte, 32)),
	})
	if err != nil {
		t.Fatal(err)
	}
	attested := make([]byte, 16, 16+2+len(c.ID)+len(pub)) // AAGUID: zeros
	attested = binary.BigEndian.AppendUint16(attested, uint16(len(c.ID)))
	attested = append(attested, c.ID...)
	attested = append(attested, pub...)
	authData := authenticatorData(or(tw.RPID, c.RPID), flags(tw, flagAT), 0, attested)
	clientData := clientDataJSON(t, "webauthn.create", or(tw.Challenge, o.PublicKey.Challenge), or(tw.Origin, a.Origin))
	att, err := webauthncbor.Marshal(map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": authData})
	if err != nil {
		t.Fatal(err)
	}
	return credentialJSON(t, c.ID, map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"attestationObject": b64.EncodeToString(att),
		"transports":        []string{"internal"},
	})
}

// Get signs the request options raw (the JSON of a sign-in's begin answer)
// with the newest credential, or tw.Cred, and returns the assertion's JSON.
func (a *Authenticator) Get(t testing.TB, raw []byte, tw Tweak) []byte {
	t.Helper()
	o := readOptions(t, raw)
	c := tw.Cred
	if c == nil {
		if len(a.Creds) == 0 {
			t.Fatal("the authenticator holds no credential")
		}
		c = a.Creds[len(a.Creds)-1]
	}
	c.Count++
	count := c.Count
	if tw.Count != nil {
		count = *tw.Count
	}
	authData := authenticatorData(or(tw.RPID, or(o.PublicKey.RPID, c.RPID)), flags(tw, 0), count, nil)
	clientData := clientDataJSON(t, "webauthn.get", or(tw.Challenge, o.PublicKey.Challenge), or(tw.Origin, a.Origin))
	hash := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), hash[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, c.Key, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	if tw.BadSignature {
		sig[len(sig)-1] ^= 0x01
	}
	return credentialJSON(t, c.ID, map[string]any{
		"clientDataJSON":    b64.EncodeToString(clientData),
		"authenticatorData": b64.EncodeToString(authData),
		"signature":         b64.EncodeToString(sig),
		"userHandle":        b64.EncodeToString(c.UserHandle),
	})
}

func flags(tw Tweak, extra byte) byte {
	f := byte(flagUP|flagUV) | extra
	if tw.NoUV {
		f &^= flagUV
	}
	return f
}

func authenticatorData(rpID string, flags byte, count uint32, attested []byte) []byte {
	h := sha256.Sum256([]byte(rpID))
	out := append(h[:], flags)
	out = binary.BigEndian.AppendUint32(out, count)
	return append(out, attested...)
}

func clientDataJSON(t testing.TB, typ, challenge, origin string) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// credentialJSON is PublicKeyCredential.toJSON() of a platform
// authenticator's answer.
func credentialJSON(t testing.TB, id []byte, response map[string]any) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{
		"id": b64.EncodeToString(id), "rawId": b64.EncodeToString(id), "type": "public-key",
		"response": response, "clientExtensionResults": map[string]any{}, "authenticatorAttachment": "platform",
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func random(t testing.TB, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func or(s, def string) string {
	if s != "" {
		return s
	}
	return def
}
