package dpop_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
	"go-jwt/utils/dpop"
)

const (
	maxAge  = 60 * time.Second
	htu     = "https://api.example.com/user/welcome"
	access  = "header.payload.signature-of-the-access-token"
	another = "header.payload.signature-of-another-token"
)

// key is a client key with its public JWK as a proof header carries it.
type key struct {
	alg    string
	signer crypto.Signer
	jwk    map[string]any
}

func newKey(t testing.TB, alg string) key {
	t.Helper()
	signer := testkit.Signer(t, alg)
	keys, err := utils.NewKeys(alg, signer)
	if err != nil {
		t.Fatal(err)
	}
	j := keys.JWKS()[0]
	jwk := map[string]any{"kty": j.Kty}
	for name, v := range map[string]string{"crv": j.Crv, "x": j.X, "y": j.Y, "n": j.N, "e": j.E} {
		if v != "" {
			jwk[name] = v
		}
	}
	return key{alg: alg, signer: signer, jwk: jwk}
}

func (k key) jkt(t testing.TB) string {
	t.Helper()
	jkt, err := utils.Thumbprint(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return jkt
}

// proof signs a proof for GET htu with access's ath, issued at now, after
// edit has changed its header and claims; its signing key is the key's own
// unless edit returns another one.
func (k key) proof(t testing.TB, now time.Time, edit func(h, c map[string]any) any) string {
	t.Helper()
	jwk := map[string]any{}
	for n, v := range k.jwk {
		jwk[n] = v
	}
	h := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": jwk}
	c := map[string]any{"jti": randomID(t), "htm": "GET", "htu": htu, "iat": now.Unix(), "ath": dpop.ATH(access)}
	var signWith any = k.signer
	if edit != nil {
		if other := edit(h, c); other != nil {
			signWith = other
		}
	}
	alg, _ := h["alg"].(string)
	method := jwt.GetSigningMethod(alg)
	if method == nil {
		method = jwt.SigningMethodES256 // an unknown alg: the header says so, the signature is anything
	}
	tok := jwt.NewWithClaims(method, jwt.MapClaims(c))
	tok.Header = h
	if method == jwt.SigningMethodNone {
		signWith = jwt.UnsafeAllowNoneSignatureType
	}
	s, err := tok.SignedString(signWith)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func randomID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func verifier(clock *testkit.Clock, nonces *dpop.Nonces) *dpop.Verifier {
	return dpop.NewVerifier(maxAge, nonces, clock.Now)
}

var resource = dpop.Request{Method: "GET", URL: htu, AccessToken: access}

// TestCheck is one row per attack of RFC 9449 §11 that a proof check
// refuses, next to the proofs it accepts.
func TestCheck(t *testing.T) {
	clock := testkit.NewClock()
	now := clock.Now()
	es, ed, rs := newKey(t, "ES256"), newKey(t, "EdDSA"), newKey(t, "RS256")
	thief := testkit.Signer(t, "ES256")
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	set := func(name string, v any) func(h, c map[string]any) any {
		return func(_, c map[string]any) any { c[name] = v; return nil }
	}
	tests := []struct {
		name  string
		proof string
		req   dpop.Request
		want  error // nil: accepted
	}{
		{"valid ES256 proof", es.proof(t, now, nil), resource, nil},
		{"valid EdDSA proof", ed.proof(t, now, nil), resource, nil},
		{"valid RS256 proof", rs.proof(t, now, nil), resource, nil},
		{"login proof without ath", es.proof(t, now, func(_, c map[string]any) any { delete(c, "ath"); return nil }),
			dpop.Request{Method: "GET", URL: htu}, nil},
		{"htu with query and fragment, which are ignored", es.proof(t, now, set("htu", htu+"?a=1#top")), resource, nil},
		{"htu with upper-case scheme and host and the default port", es.proof(t, now, set("htu", "HTTPS://API.Example.COM:443/user/welcome")), resource, nil},
		{"iat exactly max age ago", es.proof(t, now.Add(-maxAge), nil), resource, nil},
		{"iat 5 s ahead", es.proof(t, now.Add(dpop.FutureSkew), nil), resource, nil},

		{"proof by another key than its jwk", es.proof(t, now, func(_, _ map[string]any) any { return thief }), resource, dpop.ErrSignature},
		{"wrong htm", es.proof(t, now, set("htm", "POST")), resource, dpop.ErrMethod},
		{"htm in another case", es.proof(t, now, set("htm", "get")), resource, dpop.ErrMethod},
		{"wrong htu path", es.proof(t, now, set("htu", "https://api.example.com/user/logout")), resource, dpop.ErrURL},
		{"wrong htu host", es.proof(t, now, set("htu", "https://evil.example.com/user/welcome")), resource, dpop.ErrURL},
		{"wrong htu scheme", es.proof(t, now, set("htu", "http://api.example.com/user/welcome")), resource, dpop.ErrURL},
		{"wrong htu port", es.proof(t, now, set("htu", "https://api.example.com:8443/user/welcome")), resource, dpop.ErrURL},
		{"htu with user info", es.proof(t, now, set("htu", "https://me@api.example.com/user/welcome")), resource, dpop.ErrURL},
		{"htu not absolute", es.proof(t, now, set("htu", "/user/welcome")), resource, dpop.ErrURL},
		{"stale iat", es.proof(t, now.Add(-maxAge-time.Second), nil), resource, dpop.ErrStale},
		{"future iat", es.proof(t, now.Add(dpop.FutureSkew+time.Second), nil), resource, dpop.ErrFuture},
		{"missing ath", es.proof(t, now, func(_, c map[string]any) any { delete(c, "ath"); return nil }), resource, dpop.ErrATHMissing},
		{"ath of another token", es.proof(t, now, set("ath", dpop.ATH(another))), resource, dpop.ErrATH},
		{"alg none", es.proof(t, now, func(h, _ map[string]any) any { h["alg"] = "none"; return nil }), resource, dpop.ErrAlgorithm},
		{"HS256 keyed with the jwk's x", es.proof(t, now, func(h, _ map[string]any) any {
			h["alg"] = "HS256"
			return []byte(es.jwk["x"].(string))
		}), resource, dpop.ErrAlgorithm},
		{"ES384", es.proof(t, now, func(h, _ map[string]any) any { h["alg"] = "ES384"; return p384 }), resource, dpop.ErrAlgorithm},
		{"unknown alg", es.proof(t, now, func(h, _ map[string]any) any { h["alg"] = "XX999"; return nil }), resource, dpop.ErrAlgorithm},
		{"jwk with the private d", es.proof(t, now, func(h, _ map[string]any) any {
			d, err := es.signer.(*ecdsa.PrivateKey).Bytes()
			if err != nil {
				t.Fatal(err)
			}
			h["jwk"].(map[string]any)["d"] = base64.RawURLEncoding.EncodeToString(d)
			return nil
		}), resource, dpop.ErrPrivateKey},
		{"RSA jwk with p and q", rs.proof(t, now, func(h, _ map[string]any) any {
			h["jwk"].(map[string]any)["p"], h["jwk"].(map[string]any)["q"] = "AQAB", "AQAB"
			return nil
		}), resource, dpop.ErrPrivateKey},
		{"symmetric jwk (k)", es.proof(t, now, func(h, _ map[string]any) any {
			h["jwk"] = map[string]any{"kty": "oct", "k": "c2VjcmV0"}
			return nil
		}), resource, dpop.ErrPrivateKey},
		{"wrong typ", es.proof(t, now, func(h, _ map[string]any) any { h["typ"] = "JWT"; return nil }), resource, dpop.ErrType},
		{"no typ", es.proof(t, now, func(h, _ map[string]any) any { delete(h, "typ"); return nil }), resource, dpop.ErrType},
		{"no jwk", es.proof(t, now, func(h, _ map[string]any) any { delete(h, "jwk"); return nil }), resource, dpop.ErrKey},
		{"EC jwk under RS256", es.proof(t, now, func(h, _ map[string]any) any { h["alg"] = "RS256"; return rs.signer }), resource, dpop.ErrKey},
		{"EC point off the curve", es.proof(t, now, func(h, _ map[string]any) any {
			h["jwk"].(map[string]any)["y"] = h["jwk"].(map[string]any)["x"]
			return nil
		}), resource, dpop.ErrKey},
		{"RSA key of 1024 bits", rs.proof(t, now, func(h, _ map[string]any) any {
			h["jwk"].(map[string]any)["n"] = base64.RawURLEncoding.EncodeToString(small.N.Bytes())
			return small
		}), resource, dpop.ErrKey},
		{"no jti", es.proof(t, now, func(_, c map[string]any) any { delete(c, "jti"); return nil }), resource, dpop.ErrClaims},
		{"no iat", es.proof(t, now, func(_, c map[string]any) any { delete(c, "iat"); return nil }), resource, dpop.ErrClaims},
		{"jti of 300 characters", es.proof(t, now, set("jti", strings.Repeat("j", 300))), resource, dpop.ErrClaims},
		{"htm not a string", es.proof(t, now, set("htm", 7)), resource, dpop.ErrMalformed},
		{"not a JWT", "not.a.jwt", resource, dpop.ErrMalformed},
		{"oversized", strings.Repeat("a", dpop.MaxProofLen+1), resource, dpop.ErrMalformed},
		{"tampered claims", tamper(es.proof(t, now, nil)), resource, dpop.ErrSignature},
		{"ES256 signature in ASN.1 DER", derSignature(t, es, es.proof(t, now, nil)), resource, dpop.ErrSignature},
		{"ES256 signature one byte short", shortSignature(es.proof(t, now, nil)), resource, dpop.ErrSignature},
		{"signature in a non-canonical base64url spelling", nonCanonical(es.proof(t, now, nil)), resource, dpop.ErrSignature},
	}
	v := verifier(clock, nil)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := v.Check([]string{tt.proof}, tt.req)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if p.JKT == "" || p.JTI == "" {
					t.Fatalf("accepted without jkt or jti: %+v", p)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !errors.Is(err, global.ErrDPoPProof) || global.DPoPReason(err) == "" {
				t.Fatalf("%v is not a reasoned invalid_dpop_proof", err)
			}
		})
	}
}

// derSignature re-signs proof's input with k as ASN.1 DER, the encoding
// JWS does not use (RFC 7518 §3.4 wants r || s, 64 bytes).
func derSignature(t *testing.T, k key, proof string) string {
	i := strings.LastIndexByte(proof, '.')
	sum := sha256.Sum256([]byte(proof[:i]))
	der, err := ecdsa.SignASN1(rand.Reader, k.signer.(*ecdsa.PrivateKey), sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return proof[:i+1] + base64.RawURLEncoding.EncodeToString(der)
}

// shortSignature drops the last byte of proof's signature.
func shortSignature(proof string) string {
	i := strings.LastIndexByte(proof, '.') + 1
	sig, _ := base64.RawURLEncoding.DecodeString(proof[i:])
	return proof[:i] + base64.RawURLEncoding.EncodeToString(sig[:len(sig)-1])
}

// tamper changes the proof's claims after signing.
func tamper(proof string) string {
	parts := strings.Split(proof, ".")
	claims, _ := base64.RawURLEncoding.DecodeString(parts[1])
	parts[1] = base64.RawURLEncoding.EncodeToString([]byte(strings.Replace(string(claims), `"GET"`, `"PUT"`, 1)))
	return strings.Join(parts, ".")
}

func TestCheckHeaders(t *testing.T) {
	clock := testkit.NewClock()
	es := newKey(t, "ES256")
	v := verifier(clock, nil)
	if _, err := v.Check(nil, resource); !errors.Is(err, global.ErrDPoPMissing) {
		t.Fatalf("no header: %v", err)
	}
	p := es.proof(t, clock.Now(), nil)
	if _, err := v.Check([]string{p, p}, resource); !errors.Is(err, dpop.ErrMultiple) {
		t.Fatalf("two headers: %v", err)
	}
}
