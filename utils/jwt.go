// Package utils holds the service's building blocks below the handlers: the
// token codec (jwt.go) and its keys (keys.go), the session store on Redis
// (redis.go), the user store (users.go) and password hashing (password.go).
package utils

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v4"
	"github.com/google/uuid"
	lru "github.com/hashicorp/golang-lru/v2"

	"go-jwt/global"
)

// MaxTokenLen bounds what the codec will even try to parse: our tokens are
// a few hundred bytes, and a huge one must fail fast and cheap.
const MaxTokenLen = 4096

// nbfLeeway forgives small clock differences between instances for nbf.
const nbfLeeway = 5 * time.Second

// verifiedCacheSize bounds the cache of verified access tokens.
const verifiedCacheSize = 8192

// Claims are the claims of both token types. Typed, not a map: the parser
// fills them without reflection-heavy map walking.
type Claims struct {
	Username string `json:"username"`
	// Type is global.TokenAccess or global.TokenRefresh.
	Type string `json:"type"`
	// SessionID (sid) names the session both tokens of a pair belong to.
	SessionID string `json:"sid"`
	// AuthTime is when the user logged in (OIDC's auth_time): the session's
	// absolute deadline is AuthTime + SESSION_MAX_AGE.
	AuthTime int64 `json:"auth_time"`
	// Roles are the user's roles, sorted, when the token was issued: read by
	// middleware.RequireRole and /auth/verify. Access tokens only.
	Roles []string `json:"roles,omitempty"`
	// AMR says how the user authenticated (RFC 8176: pwd, otp, hwk): read by
	// ADMIN_MFA, /user/me, /user/sessions, introspection and /auth/verify.
	AMR []string `json:"amr,omitempty"`
	//
	// Cnf binds the token to the client's DPoP key (RFC 9449 §6.1): set on
	// both tokens of a pair issued with a proof; read by middleware.JWT
	// (which then wants a proof by that key), refresh and introspection.
	Cnf *Confirmation `json:"cnf,omitempty"`
	// UAHash is, on a refresh token, the hash (hex) of the User-Agent whose
	// text the rotation that issued it stored for the rest of the session's
	// life: read by Sessions.Rotate, which stores the text again only when
	// a refresh brings another User-Agent (useragent.go).
	UAHash string `json:"uah,omitempty"`
	jwt.RegisteredClaims

	// live is what CheckAccess asks Redis with, worked out once when an
	// access token is first verified and kept with it in the verified
	// cache (empty otherwise: CheckAccess works it out then).
	live liveCheck
}

// liveCheck is an access token's raw jti and its session's key.
type liveCheck struct{ jti, key string }

// Confirmation is the cnf claim (RFC 7800) of a DPoP-bound token.
type Confirmation struct {
	// JKT is the RFC 7638 SHA-256 thumbprint of the DPoP public key.
	JKT string `json:"jkt"`
}

// Pair is a freshly signed access and refresh token with their claims.
type Pair struct {
	Access, Refresh             string
	AccessClaims, RefreshClaims Claims
}

// JWT signs and verifies the service's tokens.
type JWT struct {
	keys       *Keys
	keyfunc    jwt.Keyfunc
	issuer     string
	accessTTL  time.Duration
	refreshTTL time.Duration
	maxAge     time.Duration
	now        func() time.Time
	parser     *jwt.Parser
	// verified maps an access token string whose signature checked out to
	// its decoded claims. An access token is presented on every request of
	// its 15 minutes, and decoding and checking it again each time was a
	// fifth of a private request's CPU. Only the signature work is saved:
	// the claims (exp, nbf, iss, type) are validated on every use, and
	// whether the token was revoked is asked of Redis on every request, so
	// nothing this cache holds can let a revoked or expired token through.
	// The key is the whole token, so a hit means the very same bytes whose
	// signature was verified.
	verified *lru.Cache[string, Claims]
	// header is the encoded header segment every token carries, built once
	// (jwt/v4 would marshal its header map for every token).
	header string
	fast   fastKeys // jwt_fast.go
}

// NewJWT returns a codec signing with HS256 and secret. Access tokens live
// accessTTL, refresh tokens refreshTTL, neither past authTime+maxAge. now is
// the clock (time.Now in production).
func NewJWT(secret []byte, issuer string, accessTTL, refreshTTL, maxAge time.Duration, now func() time.Time) *JWT {
	return NewJWTWithKeys(NewHMACKeys(secret), issuer, accessTTL, refreshTTL, maxAge, now)
}

// NewJWTWithKeys is NewJWT with the key set keys: HS256 (NewHMACKeys) or an
// asymmetric algorithm (NewKeys), whose tokens carry the signing key's kid.
func NewJWTWithKeys(keys *Keys, issuer string, accessTTL, refreshTTL, maxAge time.Duration, now func() time.Time) *JWT {
	verified, err := lru.New[string, Claims](verifiedCacheSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	header := map[string]string{"alg": keys.method.Alg(), "typ": "JWT"}
	if keys.kid != "" {
		header["kid"] = keys.kid
	}
	h, err := json.Marshal(header) // sorted keys: the bytes jwt/v4 would write
	if err != nil {
		panic(err) // a map of strings always marshals
	}
	return &JWT{
		header: base64.RawURLEncoding.EncodeToString(h), fast: newFastKeys(keys),
		keys: keys, keyfunc: keys.verificationKey, issuer: issuer,
		accessTTL: accessTTL, refreshTTL: refreshTTL, maxAge: maxAge,
		now: now, verified: verified,
		// The parser is pinned to the one configured algorithm, so neither
		// "none" nor an algorithm switch (an HS256 token keyed with a public
		// key) can get a token through. Claims are validated by validate
		// below, with the injected clock and with exp and iss required,
		// which jwt/v4 does not do by itself.
		parser: jwt.NewParser(jwt.WithValidMethods([]string{keys.alg}), jwt.WithoutClaimsValidation()),
	}
}

// AccessTTL is the lifetime of an access token (expiresIn).
func (j *JWT) AccessTTL() time.Duration { return j.accessTTL }

// RefreshTTL is the longest lifetime of a refresh token (refreshExpiresIn).
func (j *JWT) RefreshTTL() time.Duration { return j.refreshTTL }

// Issue signs a new pair for the session sid of username, whose user logged
// in at authTime and holds roles (sorted; the access token carries them),
// with the methods amr (RFC 8176; both tokens carry them, so a rotation
// re-issues them from the refresh token). Both tokens get fresh random ids
// (jti).
func (j *JWT) Issue(username, sid string, authTime time.Time, roles []string, amr ...string) (Pair, error) {
	return j.IssueBound(username, sid, authTime, "", roles, amr...)
}

// IssueBound is Issue for a pair bound to the DPoP key of thumbprint jkt
// (cnf.jkt in both tokens); with jkt empty it is Issue.
func (j *JWT) IssueBound(username, sid string, authTime time.Time, jkt string, roles []string, amr ...string) (Pair, error) {
	p, err := j.NewPair(username, sid, authTime, jkt, amr...)
	if err == nil {
		err = j.Sign(&p, roles)
	}
	if err != nil {
		return Pair{}, err
	}
	return p, nil
}

// NewPair is IssueBound's pair before it is signed: its claims, with fresh
// ids, without roles. A refresh makes it first, so that the rotation can
// store its ids and read the account's roles in one script
// (Sessions.Rotate), then signs it with them (Sign).
func (j *JWT) NewPair(username, sid string, authTime time.Time, jkt string, amr ...string) (Pair, error) {
	now := j.now().Truncate(time.Second)
	deadline := authTime.Add(j.maxAge)
	if !now.Before(deadline) {
		return Pair{}, global.ErrTokenExpired
	}
	// iat and nbf of both tokens: one value, shared (claims are read,
	// never changed, once made).
	issued := jwt.NewNumericDate(now)
	p := Pair{
		AccessClaims:  j.claims(username, sid, global.TokenAccess, issued, authTime, minTime(now.Add(j.accessTTL), deadline)),
		RefreshClaims: j.claims(username, sid, global.TokenRefresh, issued, authTime, minTime(now.Add(j.refreshTTL), deadline)),
	}
	if len(amr) > 0 { // each token its own copy: callers may change theirs
		p.AccessClaims.AMR, p.RefreshClaims.AMR = slices.Clone(amr), slices.Clone(amr)
	}
	if jkt != "" {
		p.AccessClaims.Cnf, p.RefreshClaims.Cnf = &Confirmation{JKT: jkt}, &Confirmation{JKT: jkt}
	}
	return p, nil
}

// Sign signs both tokens of p (made by NewPair), the access token carrying
// roles (sorted).
func (j *JWT) Sign(p *Pair, roles []string) error {
	p.AccessClaims.Roles = roles
	var err error
	if p.Access, err = j.sign(&p.AccessClaims); err != nil {
		return err
	}
	p.Refresh, err = j.sign(&p.RefreshClaims)
	return err
}

func (j *JWT) claims(username, sid, typ string, issued *jwt.NumericDate, authTime, exp time.Time) Claims {
	return Claims{
		Username:  username,
		Type:      typ,
		SessionID: sid,
		AuthTime:  authTime.Unix(),
		RegisteredClaims: jwt.RegisteredClaims{
			ID:        uuid.NewString(),
			Issuer:    j.issuer,
			IssuedAt:  issued,
			NotBefore: issued,
			ExpiresAt: jwt.NewNumericDate(exp),
		},
	}
}

// sign is jwt/v4's Token.SignedString with the header segment built once.
// With HS256 the token is built in one buffer (a refresh signs two).
func (j *JWT) sign(c *Claims) (string, error) {
	if j.fast.macs != nil {
		return j.signHS256(c)
	}
	claims, err := appendClaimsJSON(make([]byte, 0, 320), c)
	if err != nil {
		return "", err
	}
	signing := j.header + "." + base64.RawURLEncoding.EncodeToString(claims)
	sig, err := j.keys.method.Sign(signing, j.keys.signingKey())
	if err != nil {
		return "", err
	}
	s := signing + "." + sig
	if j.keys.alg == AlgES256 {
		s = lowS(s)
	}
	return s, nil
}

// signHS256 is sign for HS256: header, claims and signature appended to
// one buffer, the claims' JSON made in a pooled one.
func (j *JWT) signHS256(c *Claims) (string, error) {
	scratch := claimsBufs.Get().(*[]byte)
	defer claimsBufs.Put(scratch)
	claims, err := appendClaimsJSON((*scratch)[:0], c)
	if err != nil {
		return "", err
	}
	*scratch = claims
	enc := base64.RawURLEncoding
	b := make([]byte, 0, len(j.header)+1+enc.EncodedLen(len(claims))+1+enc.EncodedLen(sha256.Size))
	b = append(b, j.header...)
	b = append(b, '.')
	b = enc.AppendEncode(b, claims)
	var sum [sha256.Size]byte
	sig := j.fast.sum(b, sum[:0])
	b = append(b, '.')
	return string(enc.AppendEncode(b, sig)), nil
}

var claimsBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

// Parse verifies token and returns its claims if it is a live-looking token
// of type want: right algorithm and signature, our issuer, not expired, not
// before its nbf. Whether it was revoked is the session store's question.
// Every error matches global.ErrInvalidToken.
func (j *JWT) Parse(token, want string) (*Claims, error) {
	if token == "" {
		return nil, global.ErrTokenMissing
	}
	if len(token) > MaxTokenLen {
		return nil, global.ErrTokenMalformed
	}
	if cached, ok := j.verified.Get(token); ok {
		c := cached // a copy: callers own what Parse returns
		if err := j.validate(&c, want); err != nil {
			return nil, err
		}
		return &c, nil
	}
	c, ok := j.fastParse(token)
	if !ok {
		c = new(Claims)
		t, err := j.parser.ParseWithClaims(token, c, j.keyfunc)
		if err != nil {
			return nil, j.classify(t, err)
		}
	}
	if !canonicalSignature(token) || (j.keys.alg == AlgES256 && !isLowS(token)) {
		return nil, global.ErrTokenMalformed
	}
	if err := j.validate(c, want); err != nil {
		return nil, err
	}
	if c.Type == global.TokenAccess { // refresh tokens are used once
		c.live, _ = liveCheckOf(c) // a malformed id is refused by CheckAccess
		j.verified.Add(token, *c)
	}
	return c, nil
}

// canonicalSignature reports whether token's signature segment is the one
// base64url spelling of its bytes. The decoder skips CR and LF and ignores
// the unused low bits of the last character, so without this check a signed
// token would have other spellings that verify too: tokens the codec never
// issued, and each a new key of the verified cache.
func canonicalSignature(token string) bool {
	sig := token[strings.LastIndexByte(token, '.')+1:]
	raw, err := base64.RawURLEncoding.DecodeString(sig)
	return err == nil && base64.RawURLEncoding.EncodeToString(raw) == sig
}

// classify turns a jwt/v4 parse error into one of our reasons. A kid that
// names none of the keys is a bad signature: the token was not signed by a
// key of ours.
func (j *JWT) classify(t *jwt.Token, err error) error {
	if t != nil && t.Method != nil && t.Method.Alg() != j.keys.alg {
		return global.ErrTokenAlgorithm
	}
	if errors.Is(err, errUnknownKey) {
		return global.ErrTokenSignature
	}
	var ve *jwt.ValidationError
	if errors.As(err, &ve) {
		switch {
		case ve.Errors&jwt.ValidationErrorSignatureInvalid != 0:
			return global.ErrTokenSignature
		case ve.Errors&jwt.ValidationErrorUnverifiable != 0:
			return global.ErrTokenAlgorithm
		}
	}
	return global.ErrTokenMalformed
}

func (j *JWT) validate(c *Claims, want string) error {
	now := j.now()
	switch {
	case c.ExpiresAt == nil || c.IssuedAt == nil:
		return global.ErrTokenClaims
	case !now.Before(c.ExpiresAt.Time):
		return global.ErrTokenExpired
	case c.NotBefore != nil && now.Add(nbfLeeway).Before(c.NotBefore.Time):
		return global.ErrTokenNotYet
	case c.Issuer != j.issuer:
		return global.ErrTokenIssuer
	case c.Type != want:
		return global.ErrTokenType
	case c.ID == "" || c.SessionID == "" || c.Username == "":
		return global.ErrTokenClaims
	}
	return nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}
