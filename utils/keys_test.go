package utils_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

var asymmetric = []string{utils.AlgEdDSA, utils.AlgES256, utils.AlgRS256}

// loadedKeys is a key of alg written to PEM files and read back the way
// start-up reads JWT_PRIVATE_KEY and JWT_PUBLIC_KEYS.
type loadedKeys struct {
	signer      crypto.Signer
	public      crypto.PublicKey
	publicPEM   []byte
	kid         string
	privatePath string
}

func loadKey(t testing.TB, alg string) loadedKeys {
	t.Helper()
	priv, pub := testkit.KeyFiles(t, testkit.Signer(t, alg))
	signer, err := utils.ReadPrivateKey(priv, alg)
	if err != nil {
		t.Fatal(err)
	}
	public, err := utils.ReadPublicKey(pub, alg)
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile(pub)
	if err != nil {
		t.Fatal(err)
	}
	kid, err := utils.Thumbprint(public)
	if err != nil {
		t.Fatal(err)
	}
	return loadedKeys{signer: signer, public: public, publicPEM: pemBytes, kid: kid, privatePath: priv}
}

func keyCodec(t testing.TB, clock *testkit.Clock, alg string, signer crypto.Signer, extra ...crypto.PublicKey) *utils.JWT {
	t.Helper()
	keys, err := utils.NewKeys(alg, signer, extra...)
	if err != nil {
		t.Fatal(err)
	}
	return utils.NewJWTWithKeys(keys, "jwt-demo", 15*time.Minute, 168*time.Hour, 720*time.Hour, clock.Now)
}

func methodOf(alg string) jwt.SigningMethod { return jwt.GetSigningMethod(alg) }

// signKID signs claims with method and key under the header kid ("" for none).
func signKID(t *testing.T, method jwt.SigningMethod, claims jwt.Claims, key any, kid string) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	if method == jwt.SigningMethodES256 { // the low-S spelling, as the codec signs
		i := strings.LastIndexByte(s, '.') + 1
		sig := []byte(mustDecode(t, s[i:]))
		n := elliptic.P256().Params().N
		if v := new(big.Int).SetBytes(sig[32:]); v.Cmp(new(big.Int).Rsh(n, 1)) > 0 {
			v.Sub(n, v).FillBytes(sig[32:])
			s = s[:i] + base64.RawURLEncoding.EncodeToString(sig)
		}
	}
	return s
}

func TestAsymmetricParse(t *testing.T) {
	for _, alg := range asymmetric {
		t.Run(alg, func(t *testing.T) {
			clock := testkit.NewClock()
			cur, old, stranger := loadKey(t, alg), loadKey(t, alg), loadKey(t, alg)
			other := utils.AlgRS256 // another asymmetric algorithm, for the algorithm switch
			if alg == utils.AlgRS256 {
				other = utils.AlgES256
			}
			otherKey := testkit.Signer(t, other)

			rotated := keyCodec(t, clock, alg, cur.signer, old.public) // new key signs, the old one is still accepted
			current := keyCodec(t, clock, alg, cur.signer)             // the old key is gone
			pair, err := current.Issue("kesa", "sid-1", clock.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			oldPair, err := keyCodec(t, clock, alg, old.signer).Issue("kesa", "sid-1", clock.Now(), nil)
			if err != nil {
				t.Fatal(err)
			}
			valid := pair.AccessClaims
			expired := valid
			expired.ExpiresAt = jwt.NewNumericDate(clock.Now().Add(-time.Second))
			parts := strings.Split(pair.Access, ".")
			b64 := base64.RawURLEncoding.EncodeToString
			m := methodOf(alg)

			tests := []struct {
				name  string
				codec *utils.JWT
				token string
				want  string
				err   error
			}{
				{name: "valid access token", codec: current, token: pair.Access, want: global.TokenAccess},
				{name: "valid refresh token", codec: current, token: pair.Refresh, want: global.TokenRefresh},
				{name: "valid after a rotation that kept the old key", codec: rotated, token: pair.Access, want: global.TokenAccess},
				{name: "kid of an extra JWT_PUBLIC_KEYS key accepted", codec: rotated, token: oldPair.Access, want: global.TokenAccess},
				{name: "refresh token of an extra key accepted", codec: rotated, token: oldPair.Refresh, want: global.TokenRefresh},
				{name: "kid of a rotated-out key refused", codec: current, token: oldPair.Access, want: global.TokenAccess, err: global.ErrTokenSignature},
				{name: "signed by an unknown key under its own kid", codec: rotated, want: global.TokenAccess, err: global.ErrTokenSignature,
					token: signKID(t, m, &valid, stranger.signer, stranger.kid)},
				{name: "signed by an unknown key under our kid", codec: rotated, want: global.TokenAccess, err: global.ErrTokenSignature,
					token: signKID(t, m, &valid, stranger.signer, cur.kid)},
				{name: "signed by the old key under the new kid", codec: rotated, want: global.TokenAccess, err: global.ErrTokenSignature,
					token: signKID(t, m, &valid, old.signer, cur.kid)},
				{name: "no kid", codec: rotated, want: global.TokenAccess, err: global.ErrTokenSignature,
					token: signKID(t, m, &valid, cur.signer, "")},
				{name: "kid that is not a string", codec: rotated, want: global.TokenAccess, err: global.ErrTokenSignature,
					token: b64([]byte(`{"alg":"`+alg+`","kid":["`+cur.kid+`"]}`)) + "." + parts[1] + "." + parts[2]},
				{name: "HS256 keyed with the public key PEM (algorithm confusion)", codec: rotated, want: global.TokenAccess, err: global.ErrTokenAlgorithm,
					token: signKID(t, jwt.SigningMethodHS256, &valid, cur.publicPEM, cur.kid)},
				{name: "HS256 keyed with the public key PEM, no kid", codec: rotated, want: global.TokenAccess, err: global.ErrTokenAlgorithm,
					token: signKID(t, jwt.SigningMethodHS256, &valid, cur.publicPEM, "")},
				{name: "alg none", codec: rotated, want: global.TokenAccess, err: global.ErrTokenAlgorithm,
					token: signKID(t, jwt.SigningMethodNone, &valid, jwt.UnsafeAllowNoneSignatureType, cur.kid)},
				{name: "alg none with our header's kid and an empty signature", codec: rotated, want: global.TokenAccess, err: global.ErrTokenAlgorithm,
					token: b64([]byte(`{"alg":"none","kid":"`+cur.kid+`"}`)) + "." + parts[1] + "."},
				{name: "another asymmetric algorithm " + other, codec: rotated, want: global.TokenAccess, err: global.ErrTokenAlgorithm,
					token: signKID(t, methodOf(other), &valid, otherKey, cur.kid)},
				{name: "tampered payload", codec: rotated, want: global.TokenAccess, err: global.ErrTokenSignature,
					token: parts[0] + "." + b64([]byte(strings.Replace(mustDecode(t, parts[1]), `"kesa"`, `"admin"`, 1))) + "." + parts[2]},
				{name: "signature stripped", codec: rotated, want: global.TokenAccess, err: global.ErrTokenSignature,
					token: parts[0] + "." + parts[1] + "."},
				{name: "expired, signed by the key", codec: rotated, want: global.TokenAccess, err: global.ErrTokenExpired,
					token: signKID(t, m, &expired, cur.signer, cur.kid)},
				{name: "refresh token where access wanted", codec: rotated, token: pair.Refresh, want: global.TokenAccess, err: global.ErrTokenType},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					for range 2 { // the second parse may be served by the verified cache
						claims, err := tt.codec.Parse(tt.token, tt.want)
						if tt.err == nil {
							if err != nil {
								t.Fatalf("Parse: %v", err)
							}
							if claims.Username != "kesa" || claims.Type != tt.want {
								t.Fatalf("claims = %+v", claims)
							}
							continue
						}
						if !errors.Is(err, tt.err) || !errors.Is(err, global.ErrInvalidToken) {
							t.Fatalf("err = %v, want %v", err, tt.err)
						}
					}
				})
			}
		})
	}
}

func TestTokenHeaders(t *testing.T) {
	clock := testkit.NewClock()
	header := func(t *testing.T, token string) map[string]any {
		t.Helper()
		var h map[string]any
		if err := json.Unmarshal([]byte(mustDecode(t, strings.Split(token, ".")[0])), &h); err != nil {
			t.Fatal(err)
		}
		return h
	}
	for _, alg := range asymmetric {
		k := loadKey(t, alg)
		p, err := keyCodec(t, clock, alg, k.signer).Issue("kesa", "sid", clock.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range []string{p.Access, p.Refresh} {
			if h := header(t, tok); h["alg"] != alg || h["kid"] != k.kid || h["typ"] != "JWT" || len(h) != 3 {
				t.Fatalf("%s header %v, want alg %s and kid %s", alg, h, alg, k.kid)
			}
		}
	}
	p, err := newCodec(clock).Issue("kesa", "sid", clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if h := header(t, p.Access); h["alg"] != "HS256" || h["kid"] != nil || len(h) != 2 {
		t.Fatalf("HS256 header %v: want it unchanged, without kid", h)
	}
}

// TestES256LowS: the other spelling (r, n-s) of an ES256 signature verifies
// too; the codec issues only s <= n/2 and refuses the other.
func TestES256LowS(t *testing.T) {
	clock := testkit.NewClock()
	k := loadKey(t, utils.AlgES256)
	codec := keyCodec(t, clock, utils.AlgES256, k.signer)
	n := elliptic.P256().Params().N
	half := new(big.Int).Rsh(n, 1)
	for i := range 16 { // about half of the raw signatures are high-S
		p, err := codec.Issue("kesa", "sid", clock.Now(), nil)
		if err != nil {
			t.Fatal(err)
		}
		i0 := strings.LastIndexByte(p.Access, '.') + 1
		sig, err := base64.RawURLEncoding.DecodeString(p.Access[i0:])
		if err != nil || len(sig) != 64 {
			t.Fatalf("signature %d: %v", i, err)
		}
		s := new(big.Int).SetBytes(sig[32:])
		if s.Cmp(half) > 0 {
			t.Fatalf("issued a high-S signature")
		}
		s.Sub(n, s).FillBytes(sig[32:])
		high := p.Access[:i0] + base64.RawURLEncoding.EncodeToString(sig)
		if err := jwt.SigningMethodES256.Verify(p.Access[:i0-1], high[i0:], k.public); err != nil {
			t.Fatalf("the high-S spelling should verify as ECDSA: %v", err)
		}
		if _, err := codec.Parse(high, global.TokenAccess); !errors.Is(err, global.ErrTokenMalformed) {
			t.Fatalf("high-S spelling: %v, want ErrTokenMalformed", err)
		}
		if _, err := codec.Parse(p.Access, global.TokenAccess); err != nil {
			t.Fatalf("issued token: %v", err)
		}
	}
}

// TestThumbprint checks the kid against the examples of RFC 7638 §3.1
// (RSA) and RFC 8037 appendix A.3 (Ed25519).
func TestThumbprint(t *testing.T) {
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rsaKey := &rsa.PublicKey{N: new(big.Int).SetBytes(dec("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw")), E: 65537}
	for _, tt := range []struct {
		name string
		key  crypto.PublicKey
		want string
	}{
		{"RFC 7638 RSA", rsaKey, "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"},
		{"RFC 8037 Ed25519", ed25519.PublicKey(dec("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")), "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"},
	} {
		if got, err := utils.Thumbprint(tt.key); err != nil || got != tt.want {
			t.Errorf("%s: thumbprint %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
}

// TestJWKS: each published key decodes back to the very public key, under
// its thumbprint; the signing key comes first; HS256 publishes nothing.
func TestJWKS(t *testing.T) {
	if got := utils.NewHMACKeys(secret).JWKS(); got == nil || len(got) != 0 {
		t.Fatalf("HS256 JWKS = %#v, want an empty, non-nil list", got)
	}
	for _, alg := range asymmetric {
		t.Run(alg, func(t *testing.T) {
			cur, old := loadKey(t, alg), loadKey(t, alg)
			keys, err := utils.NewKeys(alg, cur.signer, old.public, cur.public) // the signing key listed again: once only
			if err != nil {
				t.Fatal(err)
			}
			set := keys.JWKS()
			if len(set) != 2 || keys.KeyID() != cur.kid || set[0].Kid != cur.kid || set[1].Kid != old.kid || keys.Alg() != alg {
				t.Fatalf("JWKS %+v, kid %q; want the signing key %s, then %s", set, keys.KeyID(), cur.kid, old.kid)
			}
			for i, want := range []crypto.PublicKey{cur.public, old.public} {
				j := set[i]
				if j.Use != "sig" || j.Alg != alg {
					t.Fatalf("key %d: %+v", i, j)
				}
				if got := fromJWK(t, j); !got.(interface{ Equal(crypto.PublicKey) bool }).Equal(want) {
					t.Fatalf("key %d does not decode to the public key: %+v", i, j)
				}
			}
		})
	}
}

func fromJWK(t *testing.T, j utils.JWK) crypto.PublicKey {
	t.Helper()
	dec := func(s string) []byte {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		return b
	}
	switch {
	case j.Kty == "OKP" && j.Crv == "Ed25519" && j.Y == "" && j.N == "":
		return ed25519.PublicKey(dec(j.X))
	case j.Kty == "EC" && j.Crv == "P-256" && j.N == "":
		k, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, dec(j.X)...), dec(j.Y)...))
		if err != nil {
			t.Fatal(err)
		}
		return k
	case j.Kty == "RSA" && j.Crv == "" && j.X == "":
		return &rsa.PublicKey{N: new(big.Int).SetBytes(dec(j.N)), E: int(new(big.Int).SetBytes(dec(j.E)).Int64())}
	}
	t.Fatalf("unexpected JWK %+v", j)
	return nil
}

func TestReadKeys(t *testing.T) {
	ed, ec, rs := testkit.Signer(t, utils.AlgEdDSA), testkit.Signer(t, utils.AlgES256), testkit.Signer(t, utils.AlgRS256)
	edPriv, edPub := testkit.KeyFiles(t, ed)
	ecPriv, ecPub := testkit.KeyFiles(t, ec)
	rsPriv, rsPub := testkit.KeyFiles(t, rs)
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	p384Priv, _ := testkit.KeyFiles(t, p384)
	small, err := rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // refused on purpose
	if err != nil {
		t.Fatal(err)
	}
	smallPriv, smallPub := testkit.KeyFiles(t, small)
	sec1, err := x509.MarshalECPrivateKey(ec.(*ecdsa.PrivateKey))
	if err != nil {
		t.Fatal(err)
	}
	ecParams := filepath.Join(t.TempDir(), "ec.pem") // what `openssl ecparam -genkey` writes
	if err := os.WriteFile(ecParams, append(pem.EncodeToMemory(&pem.Block{Type: "EC PARAMETERS", Bytes: []byte{6, 8, 42, 134, 72, 206, 61, 3, 1, 7}}),
		pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})...), 0o600); err != nil {
		t.Fatal(err)
	}
	pkcs1 := testkit.WritePEM(t, "rsa.pem", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(rs.(*rsa.PrivateKey)))
	pkcs1Pub := testkit.WritePEM(t, "rsa.pub.pem", "RSA PUBLIC KEY", x509.MarshalPKCS1PublicKey(rs.Public().(*rsa.PublicKey)))
	two := filepath.Join(t.TempDir(), "two.pem")
	a, _ := os.ReadFile(edPub)
	b, _ := os.ReadFile(ecPub)
	if err := os.WriteFile(two, append(a, b...), 0o600); err != nil {
		t.Fatal(err)
	}
	encrypted := filepath.Join(t.TempDir(), "enc.pem")
	if err := os.WriteFile(encrypted, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY",
		Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-256-CBC,00"}, Bytes: []byte{1}}), 0o600); err != nil {
		t.Fatal(err)
	}
	garbage := filepath.Join(t.TempDir(), "garbage.pem")
	if err := os.WriteFile(garbage, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, path, alg string
		public          bool
		err             string // "" for accepted; else a part of the message
	}{
		{"Ed25519 PKCS #8", edPriv, utils.AlgEdDSA, false, ""},
		{"Ed25519 public", edPub, utils.AlgEdDSA, true, ""},
		{"P-256 PKCS #8", ecPriv, utils.AlgES256, false, ""},
		{"P-256 SEC 1 after EC PARAMETERS", ecParams, utils.AlgES256, false, ""},
		{"P-256 public", ecPub, utils.AlgES256, true, ""},
		{"RSA PKCS #8", rsPriv, utils.AlgRS256, false, ""},
		{"RSA PKCS #1", pkcs1, utils.AlgRS256, false, ""},
		{"RSA PKCS #1 public", pkcs1Pub, utils.AlgRS256, true, ""},
		{"RSA public", rsPub, utils.AlgRS256, true, ""},
		{"RSA key for EdDSA", rsPriv, utils.AlgEdDSA, false, "an RSA key is not a key for JWT_ALG=EdDSA"},
		{"Ed25519 public key for ES256", edPub, utils.AlgES256, true, "an Ed25519 key is not a key for JWT_ALG=ES256"},
		{"P-384 for ES256", p384Priv, utils.AlgES256, false, "an EC P-384 key"},
		{"P-256 for RS256", ecPriv, utils.AlgRS256, false, "an EC P-256 key is not a key for JWT_ALG=RS256"},
		{"RSA 1024", smallPriv, utils.AlgRS256, false, "1024 bits"},
		{"RSA 1024 public", smallPub, utils.AlgRS256, true, "1024 bits"},
		{"public key as the signing key", edPub, utils.AlgEdDSA, false, "holds a public key"},
		{"private key as a public key", edPriv, utils.AlgEdDSA, true, "holds a private key"},
		{"two keys in one file", two, utils.AlgEdDSA, true, "more than one key"},
		{"encrypted", encrypted, utils.AlgRS256, false, "encrypted"},
		{"not PEM", garbage, utils.AlgEdDSA, false, "no PEM key"},
		{"missing file", filepath.Join(t.TempDir(), "nope.pem"), utils.AlgEdDSA, false, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			if tt.public {
				_, err = utils.ReadPublicKey(tt.path, tt.alg)
			} else {
				_, err = utils.ReadPrivateKey(tt.path, tt.alg)
			}
			switch {
			case tt.err == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
				t.Fatalf("err = %v, want one saying %q", err, tt.err)
			case err != nil && (strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), tt.path)):
				t.Fatalf("err %q: want one line naming the file", err)
			}
		})
	}
}

func TestNewKeysRefuses(t *testing.T) {
	ed := testkit.Signer(t, utils.AlgEdDSA)
	ec := testkit.Signer(t, utils.AlgES256)
	for _, tt := range []struct {
		name   string
		alg    string
		signer crypto.Signer
		extra  []crypto.PublicKey
	}{
		{"HS256 is not asymmetric", utils.AlgHS256, ed, nil},
		{"no signing key", utils.AlgEdDSA, nil, nil},
		{"signing key of another algorithm", utils.AlgES256, ed, nil},
		{"extra key of another algorithm", utils.AlgEdDSA, ed, []crypto.PublicKey{ec.Public()}},
	} {
		if _, err := utils.NewKeys(tt.alg, tt.signer, tt.extra...); err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
	for in, want := range map[string]string{"eddsa": "EdDSA", "HS256": "HS256", "es256": "ES256", "Rs256": "RS256"} {
		if got, err := utils.ParseAlg(in); err != nil || got != want {
			t.Errorf("ParseAlg(%q) = %q, %v", in, got, err)
		}
	}
	for _, in := range []string{"none", "HS512", "PS256", "ES384", ""} {
		if _, err := utils.ParseAlg(in); err == nil {
			t.Errorf("ParseAlg(%q) accepted", in)
		}
	}
}
