package utils_test

import (
	"encoding/base64"
	"errors"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"go-jwt/global"
	"go-jwt/utils"
)

// fuzzKey and fuzzNow make every process of a fuzz run verify alike: the
// coordinator makes the seeds, the worker processes run them.
var (
	fuzzKey = []byte("fuzz-secret-fuzz-secret-fuzz-sec")
	fuzzNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
)

// fuzzTokensEnv hands the pair the coordinator issued to its worker
// processes (they inherit its environment). Without it a worker, with the
// same key and clock, would see a valid token it never issued itself.
const fuzzTokensEnv = "GO_JWT_FUZZ_PARSE_TOKENS"

func newFuzzCodec() *utils.JWT {
	return utils.NewJWT(fuzzKey, "jwt-demo", 15*time.Minute, 168*time.Hour, 720*time.Hour, func() time.Time { return fuzzNow })
}

// issuedPair returns the run's access and refresh token: issued by codec
// here, or in a worker the ones the coordinator issued.
func issuedPair(f *testing.F, codec *utils.JWT) (access, refresh string) {
	if a, r, ok := strings.Cut(os.Getenv(fuzzTokensEnv), " "); ok {
		return a, r
	}
	p, err := codec.Issue("kesa", "fuzz-session", fuzzNow, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Setenv(fuzzTokensEnv, p.Access+" "+p.Refresh)
	return p.Access, p.Refresh
}

// FuzzParse feeds arbitrary strings to the token codec. Only the codec's
// own tokens may pass (nothing else in the process holds the key), with
// claims of the type asked for, and the verified-token cache must not change
// any outcome: a second Parse and a fresh codec's Parse agree with the first.
//
//	go test -run '^$' -fuzz '^FuzzParse$' -fuzztime 60s ./utils/
func FuzzParse(f *testing.F) {
	codec := newFuzzCodec()
	access, refresh := issuedPair(f, codec)
	issued := map[string]bool{access: true, refresh: true}

	b64 := base64.RawURLEncoding.EncodeToString
	parts := strings.Split(access, ".")
	rparts := strings.Split(refresh, ".")
	claims := &utils.Claims{Username: "kesa", Type: global.TokenAccess, SessionID: "fuzz-session", AuthTime: fuzzNow.Unix(),
		RegisteredClaims: jwt.RegisteredClaims{ID: "jti", Issuer: "jwt-demo", IssuedAt: jwt.NewNumericDate(fuzzNow),
			NotBefore: jwt.NewNumericDate(fuzzNow), ExpiresAt: jwt.NewNumericDate(fuzzNow.Add(time.Minute))}}
	hs512, err := jwt.NewWithClaims(jwt.SigningMethodHS512, claims).SignedString(fuzzKey)
	if err != nil {
		f.Fatal(err)
	}
	otherKey, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte("another-key-another-key-another!"))
	if err != nil {
		f.Fatal(err)
	}
	none, err := jwt.NewWithClaims(jwt.SigningMethodNone, claims).SignedString(jwt.UnsafeAllowNoneSignatureType)
	if err != nil {
		f.Fatal(err)
	}
	flip := func(s string, i int) string { b := []byte(s); b[i] ^= 1; return string(b) }
	// respell changes the unused low bit of the signature's last character
	// (32 bytes are 42 characters and 4 bits): the same signature bytes.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	respell := func(s string) string {
		return s[:len(s)-1] + string(alphabet[strings.IndexByte(alphabet, s[len(s)-1])^1])
	}
	sig := len(parts[0]) + len(parts[1]) + 2 // where the signature starts

	for _, seed := range []struct {
		token      string
		wantAccess bool
	}{
		{access, true},
		{refresh, false},
		{access, false},
		{refresh, true},
		{hs512, true},
		{otherKey, true},
		{none, true},
		{b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", true},
		{b64([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + parts[1] + "." + parts[2], true},
		{parts[0] + "." + rparts[1] + "." + parts[2], true},       // refresh claims, access signature
		{flip(access, len(parts[0])+5), true},                     // payload byte changed
		{flip(access, len(access)-10), true},                      // signature byte changed
		{respell(access), true},                                   // same signature bytes, other spelling
		{respell(refresh), false},                                 // the same for a refresh token
		{access[:sig+10] + "\n" + access[sig+10:], true},          // decoders skip newlines
		{access[:sig] + "\r\n" + access[sig:] + "\n", true},       // and carriage returns
		{access + ".", true},                                      // a fourth segment
		{access + strings.Repeat("A", utils.MaxTokenLen), true},   // over the length bound
		{parts[0] + "." + parts[1] + "." + parts[2][:20], true},   // truncated signature
		{parts[0] + "." + parts[1] + "." + parts[2] + "==", true}, // padded signature
		{" " + access, true},                                      // leading space
		{"", true},
		{".", true},
		{"..", false},
		{"a.b.c", true},
		{"eyJ.eyJ.eyJ", true},
		{strings.Repeat(".", utils.MaxTokenLen), true},
		{strings.Repeat("a.", utils.MaxTokenLen/2), false},
		{`{"alg":"HS256","typ":"JWT"}.{"type":"access"}.sig`, true},
		{b64([]byte(`{"alg":"HS256"}`)) + "." + b64([]byte(`{"exp":1e309,"iat":-1,"type":"access"}`)) + ".c2ln", true},
		{b64([]byte(`{"alg":"HS256","kid":"../../etc/passwd"}`)) + "." + b64([]byte(`{"iss":null,"exp":"soon"}`)) + ".", true},
		{b64([]byte(`{"alg":["HS256"]}`)) + "." + b64([]byte(`[]`)) + ".AAAA", false},
		{b64([]byte(`{"alg":"RS256"}`)) + "." + parts[1] + "." + parts[2], true},
		{b64([]byte(`null`)) + "." + b64([]byte(`null`)) + ".", true},
	} {
		f.Add(seed.token, seed.wantAccess)
	}

	f.Fuzz(func(t *testing.T, token string, wantAccess bool) {
		want := global.TokenRefresh
		if wantAccess {
			want = global.TokenAccess
		}
		c, err := codec.Parse(token, want)
		again, errAgain := codec.Parse(token, want) // a cache hit if the first one was cached
		fresh, errFresh := newFuzzCodec().Parse(token, want)
		if err != errAgain || err != errFresh || !reflect.DeepEqual(c, again) || !reflect.DeepEqual(c, fresh) {
			t.Fatalf("Parse(%q, %s) is not stable: (%+v, %v), again (%+v, %v), fresh codec (%+v, %v)",
				token, want, c, err, again, errAgain, fresh, errFresh)
		}
		if err != nil {
			if !errors.Is(err, global.ErrInvalidToken) || c != nil {
				t.Fatalf("Parse(%q, %s) = (%+v, %v): every failure must be an invalid token with no claims", token, want, c, err)
			}
			return
		}
		if !issued[token] {
			t.Fatalf("Parse accepted a token the codec never issued: %q (claims %+v)", token, c)
		}
		if c == nil || c.Type != want || c.Username != "kesa" || c.SessionID != "fuzz-session" || c.ID == "" {
			t.Fatalf("Parse(%q, %s) accepted with claims %+v", token, want, c)
		}
	})
}
