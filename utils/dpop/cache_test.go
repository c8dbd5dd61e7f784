package dpop_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"go-jwt/test/testkit"
	"go-jwt/utils/dpop"
)

// rawProof signs a proof for GET htu with access's ath, issued at now,
// whose header segment is the base64url of header as given, byte for byte.
func (k key) rawProof(t testing.TB, now time.Time, header []byte) string {
	t.Helper()
	c, err := json.Marshal(map[string]any{"jti": randomID(t), "htm": "GET", "htu": htu, "iat": now.Unix(), "ath": dpop.ATH(access)})
	if err != nil {
		t.Fatal(err)
	}
	signing := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, err := jwt.GetSigningMethod(k.alg).Sign(signing, k.signer)
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + sig
}

// headerJSON is the header a proof of k carries, with extra members.
func (k key) headerJSON(t testing.TB, extra map[string]any) []byte {
	t.Helper()
	h := map[string]any{"typ": "dpop+jwt", "alg": k.alg, "jwk": k.jwk}
	for n, v := range extra {
		h[n] = v
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func headOf(proof string) string { return proof[:strings.IndexByte(proof, '.')] }

// swapSignature puts the signature of from on proof.
func swapSignature(proof, from string) string {
	return proof[:strings.LastIndexByte(proof, '.')] + from[strings.LastIndexByte(from, '.'):]
}

// TestCachedHeaderForgedSignature: once a header is cached, a proof with
// that very header is still refused unless its own signature verifies with
// the header's key.
func TestCachedHeaderForgedSignature(t *testing.T) {
	clock := testkit.NewClock()
	now := clock.Now()
	es := newKey(t, "ES256")
	thief := testkit.Signer(t, "ES256")
	v := verifier(clock, nil)
	first := es.proof(t, now, nil)
	if _, err := v.Check([]string{first}, resource); err != nil {
		t.Fatal(err)
	}
	if v.CachedHeaders() != 1 {
		t.Fatalf("%d cached headers after one proof, want 1", v.CachedHeaders())
	}
	forged := es.proof(t, now, func(_, _ map[string]any) any { return thief })
	if headOf(forged) != headOf(first) {
		t.Fatal("the forged proof does not carry the cached header")
	}
	for name, proof := range map[string]string{
		"signed by another key":               forged,
		"claims changed after signing":        tamper(es.proof(t, now, nil)),
		"the signature of another proof":      swapSignature(es.proof(t, now, nil), first),
		"an ASN.1 DER signature":              derSignature(t, es, es.proof(t, now, nil)),
		"a signature in a non-canonical form": nonCanonical(es.proof(t, now, nil)),
	} {
		if _, err := v.Check([]string{proof}, resource); !errors.Is(err, dpop.ErrSignature) {
			t.Errorf("%s: %v, want %v", name, err, dpop.ErrSignature)
		}
	}
	if _, err := v.Check([]string{es.proof(t, now, nil)}, resource); err != nil {
		t.Fatalf("a fresh proof after the forgeries: %v", err)
	}
}

// nonCanonical flips an unused low bit of the last character of proof's
// signature: the same bytes, spelled another way.
func nonCanonical(proof string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := proof[len(proof)-1]
	return proof[:len(proof)-1] + string(alphabet[strings.IndexByte(alphabet, last)^1])
}

// TestHeaderOneByteOff: a header one byte away from a cached one is its own
// entry and gets every header check, even signed by the cached header's key.
func TestHeaderOneByteOff(t *testing.T) {
	clock := testkit.NewClock()
	now := clock.Now()
	es := newKey(t, "ES256")
	v := verifier(clock, nil)
	header := es.headerJSON(t, nil)
	if _, err := v.Check([]string{es.rawProof(t, now, header)}, resource); err != nil {
		t.Fatal(err)
	}
	x := es.jwk["x"].(string)
	otherX := "A" + x[1:] // another first character: other high bits of x
	if x[0] == 'A' {
		otherX = "B" + x[1:]
	}
	for _, tt := range []struct {
		old, new string
		want     error
	}{
		{`"typ":"dpop+jwt"`, `"typ":"dpop+jwu"`, dpop.ErrType},
		{`"alg":"ES256"`, `"alg":"ES257"`, dpop.ErrAlgorithm},
		{`"kty":"EC"`, `"kty":"EX"`, dpop.ErrKey},
		{`"crv":"P-256"`, `"crv":"P-257"`, dpop.ErrKey},
		{`"x":"` + x, `"x":"` + otherX, dpop.ErrKey}, // off the curve
		{`"y":"`, `"d":"`, dpop.ErrPrivateKey},
	} {
		edited := strings.Replace(string(header), tt.old, tt.new, 1)
		if len(edited) != len(header) || edited == string(header) {
			t.Fatalf("%s -> %s is not a one-byte edit", tt.old, tt.new)
		}
		if _, err := v.Check([]string{es.rawProof(t, now, []byte(edited))}, resource); !errors.Is(err, tt.want) {
			t.Errorf("%s: %v, want %v", tt.new, err, tt.want)
		}
	}
	if v.CachedHeaders() != 1 {
		t.Fatalf("%d cached headers after refused ones, want 1", v.CachedHeaders())
	}
	valid := strings.Replace(string(header), `"typ":"dpop+jwt"`, `"typ":"dpop+jwT"`, 1) // typ is case-insensitive
	if _, err := v.Check([]string{es.rawProof(t, now, []byte(valid))}, resource); err != nil {
		t.Fatal(err)
	}
	if v.CachedHeaders() != 2 {
		t.Fatalf("%d cached headers, want 2: a new entry for the new header", v.CachedHeaders())
	}
}

// TestRefusedHeaderNotCached: a proof refused for its header, or for a
// signature its header's key did not make, leaves nothing in the cache, so
// the same proof again is refused for the same reason.
func TestRefusedHeaderNotCached(t *testing.T) {
	clock := testkit.NewClock()
	now := clock.Now()
	es, rs := newKey(t, "ES256"), newKey(t, "RS256")
	thief := testkit.Signer(t, "ES256")
	edit := func(f func(h map[string]any)) func(h, _ map[string]any) any {
		return func(h, _ map[string]any) any { f(h); return nil }
	}
	for _, tt := range []struct {
		name  string
		proof string
		want  error
	}{
		{"wrong typ", es.proof(t, now, edit(func(h map[string]any) { h["typ"] = "JWT" })), dpop.ErrType},
		{"alg none", es.proof(t, now, edit(func(h map[string]any) { h["alg"] = "none" })), dpop.ErrAlgorithm},
		{"private d", es.proof(t, now, edit(func(h map[string]any) { h["jwk"].(map[string]any)["d"] = "AQAB" })), dpop.ErrPrivateKey},
		{"EC jwk under RS256", es.proof(t, now, func(h, _ map[string]any) any { h["alg"] = "RS256"; return rs.signer }), dpop.ErrKey},
		{"a good header, signed by another key", es.proof(t, now, func(_, _ map[string]any) any { return thief }), dpop.ErrSignature},
	} {
		t.Run(tt.name, func(t *testing.T) {
			v := verifier(clock, nil)
			for i := range 2 {
				if _, err := v.Check([]string{tt.proof}, resource); !errors.Is(err, tt.want) {
					t.Fatalf("check %d: %v, want %v", i+1, err, tt.want)
				}
			}
			if v.CachedHeaders() != 0 {
				t.Fatalf("%d cached headers after a refused proof", v.CachedHeaders())
			}
		})
	}
}

// TestHeaderCacheBounded: the cache keeps at most HeaderCacheSize headers,
// and a header it let go of is checked in full again, still accepted when
// good and still refused with a forged signature. A header longer than
// MaxCachedHeader is never kept.
func TestHeaderCacheBounded(t *testing.T) {
	clock := testkit.NewClock()
	now := clock.Now()
	ed := newKey(t, "EdDSA")
	thief := newKey(t, "EdDSA")
	v := verifier(clock, nil)
	headers := make([][]byte, dpop.HeaderCacheSize+1) // distinct: an extra member
	for i := range headers {
		headers[i] = ed.headerJSON(t, map[string]any{"i": i})
		if _, err := v.Check([]string{ed.rawProof(t, now, headers[i])}, resource); err != nil {
			t.Fatalf("header %d: %v", i, err)
		}
	}
	if v.CachedHeaders() != dpop.HeaderCacheSize {
		t.Fatalf("%d cached headers, want the bound %d", v.CachedHeaders(), dpop.HeaderCacheSize)
	}
	evicted := ed.rawProof(t, now, headers[0])
	if _, err := v.Check([]string{swapSignature(evicted, thief.rawProof(t, now, headers[0]))}, resource); !errors.Is(err, dpop.ErrSignature) {
		t.Fatalf("an evicted header with a forged signature: %v", err)
	}
	if _, err := v.Check([]string{evicted}, resource); err != nil {
		t.Fatalf("an evicted header: %v", err)
	}

	v = verifier(clock, nil)
	long := ed.headerJSON(t, map[string]any{"pad": strings.Repeat("p", dpop.MaxCachedHeader)})
	for range 2 {
		if _, err := v.Check([]string{ed.rawProof(t, now, long)}, resource); err != nil {
			t.Fatalf("a long header: %v", err)
		}
	}
	if v.CachedHeaders() != 0 {
		t.Fatalf("a header of %d bytes was cached", len(long))
	}
}
