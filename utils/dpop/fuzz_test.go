package dpop_test

import (
	"errors"
	"strings"
	"testing"

	"go-jwt/global"
	"go-jwt/test/testkit"
)

// FuzzCheck: whatever a client sends as a proof, the check neither panics
// nor accepts it unless it is a proof by its own jwk for this request; and
// every refusal is a reasoned DPoP error (a 400/401, never a 500).
func FuzzCheck(f *testing.F) {
	clock := testkit.NewClock()
	es := newKey(f, "ES256")
	ed := newKey(f, "EdDSA")
	for _, p := range []string{
		es.proof(f, clock.Now(), nil),
		ed.proof(f, clock.Now(), nil),
		es.proof(f, clock.Now(), func(h, _ map[string]any) any { h["alg"] = "none"; return nil }),
		"", ".", "..", "a.b.c", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.",
	} {
		f.Add(p)
	}
	v := verifier(clock, nil)
	f.Fuzz(func(t *testing.T, proof string) {
		p, err := v.Check([]string{proof}, resource)
		if err != nil {
			if global.DPoPReason(err) == "" || (!errors.Is(err, global.ErrDPoPProof) && !errors.Is(err, global.ErrDPoPNonce)) {
				t.Fatalf("an unreasoned error: %v", err)
			}
			return
		}
		if p.JKT == "" || p.JTI == "" || strings.Count(proof, ".") != 2 {
			t.Fatalf("accepted %q as %+v", proof, p)
		}
	})
}
