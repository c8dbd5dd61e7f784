// Package dpop checks DPoP proofs (RFC 9449): the JWT a client signs with
// its own key for each request, so that a token bound to that key is of no
// use to whoever copies it without the key. It validates a proof (§4.3),
// keeps each proof's jti single use in Redis (replay.go), makes and checks
// stateless server nonces (nonce.go) and works out the URL a request was
// sent to, behind proxies too (origin.go). It reads no configuration: the
// caller passes every setting in.
package dpop

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
	lru "github.com/hashicorp/golang-lru/v2"

	"go-jwt/global"
)

// Mode is the DPOP setting.
type Mode int

// The DPOP modes: Off ignores proofs (Authorization: DPoP is not known);
// Optional binds a pair when login or refresh carries a proof; Required
// refuses logins, refreshes and access tokens without one.
const (
	Off Mode = iota
	Optional
	Required
)

// ParseMode reads a DPOP value: off, optional or required (any case).
func ParseMode(s string) (Mode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "off":
		return Off, nil
	case "optional", "":
		return Optional, nil
	case "required":
		return Required, nil
	}
	return Off, fmt.Errorf("want off, optional or required, got %q", s)
}

// Algs are the proof algorithms accepted, as WWW-Authenticate's algs lists
// them: asymmetric only, never none or an HMAC (RFC 9449 §4.3 point 5).
const Algs = "ES256 EdDSA RS256"

// FutureSkew is how far ahead of the server's clock a proof's iat may be.
const FutureSkew = 5 * time.Second

// MaxProofLen bounds what is parsed at all: an RSA-4096 proof with a long
// URL is about 3 KB.
const MaxProofLen = 8192

// maxJTILen bounds a proof's jti; RFC 9449 asks for 96 random bits or more.
const maxJTILen = 256

// The proof failures, each with its metrics label (global.DPoPReason).
var (
	ErrMultiple   = global.DPoPError("more than one DPoP header", "multiple", false)
	ErrMalformed  = global.DPoPError("DPoP proof is not a well-formed JWT", "malformed", false)
	ErrType       = global.DPoPError("DPoP proof typ must be dpop+jwt", "bad_typ", false)
	ErrAlgorithm  = global.DPoPError("DPoP proof alg must be one of "+Algs, "bad_alg", false)
	ErrKey        = global.DPoPError("DPoP proof jwk is not a usable public key for its alg", "bad_jwk", false)
	ErrPrivateKey = global.DPoPError("DPoP proof jwk holds private key material", "private_jwk", false)
	ErrSignature  = global.DPoPError("DPoP proof signature does not verify with its jwk", "bad_signature", false)
	ErrClaims     = global.DPoPError("DPoP proof lacks jti, htm, htu or iat", "bad_claims", false)
	ErrMethod     = global.DPoPError("DPoP proof htm is not this request's method", "bad_htm", false)
	ErrURL        = global.DPoPError("DPoP proof htu is not this request's URL", "bad_htu", false)
	ErrStale      = global.DPoPError("DPoP proof iat is too old", "stale", false)
	ErrFuture     = global.DPoPError("DPoP proof iat is in the future", "future", false)
	ErrATHMissing = global.DPoPError("DPoP proof lacks ath, the hash of the access token", "missing_ath", false)
	ErrATH        = global.DPoPError("DPoP proof ath is not the hash of this access token", "bad_ath", false)
	ErrReplayed   = global.DPoPError("DPoP proof jti was used before", "replayed", false)
	ErrNoNonce    = global.DPoPError("DPoP proof must carry the server nonce of the DPoP-Nonce header", "nonce_missing", true)
	ErrBadNonce   = global.DPoPError("DPoP proof nonce is not current: use the one of the DPoP-Nonce header", "nonce_invalid", true)
	// ErrNotForwarded: a forward-auth request whose proof cannot be checked,
	// for want of X-Forwarded-Method and -Uri from a trusted proxy.
	ErrNotForwarded = global.DPoPError("DPoP proof cannot be checked: the trusted proxy must send X-Forwarded-Method and X-Forwarded-Uri", "not_forwarded", false)
)

// Proof is a checked proof: the thumbprint of its key and what its jti
// single use needs.
type Proof struct {
	// JKT is the RFC 7638 thumbprint of the proof's key (cnf.jkt).
	JKT string
	// JTI is the proof's id, to be used once (Replays).
	JTI string
}

// Request is what a proof must match: the method and the URL the client
// sent the request to (Origin.URL; query and fragment are ignored), and on
// a resource request the access token presented with it (ath).
type Request struct {
	Method, URL string
	AccessToken string
}

// Verifier checks proofs. It is safe for concurrent use.
type Verifier struct {
	maxAge time.Duration
	nonces *Nonces
	now    func() time.Time
	// headers maps a header segment that passed every header check to what
	// it yields (jws.go).
	headers *lru.Cache[string, checkedHeader]
}

// NewVerifier returns a verifier accepting proofs issued at most maxAge ago
// (and at most FutureSkew ahead) by the clock now. With nonces not nil,
// every proof must carry one of its current nonces.
func NewVerifier(maxAge time.Duration, nonces *Nonces, now func() time.Time) *Verifier {
	headers, err := lru.New[string, checkedHeader](headerCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &Verifier{maxAge: maxAge, nonces: nonces, now: now, headers: headers}
}

// Nonce is the nonce to hand out in DPoP-Nonce, "" when nonces are off.
func (v *Verifier) Nonce() string {
	if v.nonces == nil {
		return ""
	}
	return v.nonces.Current()
}

// claims are a proof's claims (RFC 9449 §4.2).
type claims struct {
	JTI   string           `json:"jti"`
	HTM   string           `json:"htm"`
	HTU   string           `json:"htu"`
	IAT   *jwt.NumericDate `json:"iat"`
	ATH   string           `json:"ath"`
	Nonce string           `json:"nonce"`
}

// Check validates the DPoP header values of a request against r: exactly
// one proof, typ dpop+jwt, an accepted alg, a public jwk of that alg whose
// signature verifies, jti, htm, htu and iat within the window, ath when r
// has an access token, and the nonce when nonces are on (RFC 9449 §4.3).
// Only the jti's single use is left to the caller (Replays), so that it can
// ride on the request's other Redis command. No header is ErrDPoPMissing.
func (v *Verifier) Check(headers []string, r Request) (*Proof, error) {
	switch {
	case len(headers) == 0:
		return nil, global.ErrDPoPMissing
	case len(headers) > 1:
		return nil, ErrMultiple
	case len(headers[0]) > MaxProofLen:
		return nil, ErrMalformed
	}
	proof := headers[0]
	head, payload, sig, ok := segments(proof)
	if !ok {
		return nil, ErrMalformed
	}
	raw, ok := decodeSegment(payload)
	c := new(claims)
	if !ok || json.Unmarshal(raw, c) != nil {
		return nil, ErrMalformed
	}
	h, cached, err := v.header(head)
	if err != nil {
		return nil, err
	}
	signature, ok := decodeSegment(sig)
	if !ok || !h.verify(proof[:len(head)+1+len(payload)], signature) {
		return nil, ErrSignature
	}
	if !cached {
		v.remember(head, h)
	}
	if err := v.checkClaims(c, r); err != nil {
		return nil, err
	}
	return &Proof{JKT: h.jkt, JTI: c.JTI}, nil
}

func (v *Verifier) checkClaims(c *claims, r Request) error {
	now := v.now()
	switch {
	case c.JTI == "" || len(c.JTI) > maxJTILen || c.HTM == "" || c.HTU == "" || c.IAT == nil:
		return ErrClaims
	case c.HTM != r.Method:
		return ErrMethod
	case !SameURL(c.HTU, r.URL):
		return ErrURL
	case c.IAT.Before(now.Add(-v.maxAge)):
		return ErrStale
	case c.IAT.After(now.Add(FutureSkew)):
		return ErrFuture
	case r.AccessToken != "" && c.ATH == "":
		return ErrATHMissing
	case r.AccessToken != "" && c.ATH != ATH(r.AccessToken):
		return ErrATH
	case v.nonces != nil && c.Nonce == "":
		return ErrNoNonce
	case v.nonces != nil && !v.nonces.Valid(c.Nonce):
		return ErrBadNonce
	}
	return nil
}

// ATH is the ath claim of a proof sent with accessToken: base64url of its
// SHA-256 (RFC 9449 §4.2).
func ATH(accessToken string) string {
	sum := sha256.Sum256([]byte(accessToken))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
