package utils_test

import (
	"context"
	"encoding/base64"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"go-jwt/global"
	"go-jwt/test/testkit"
	"go-jwt/utils"
)

// TestIssueCarriesAMR: both tokens of a pair carry amr, parsing returns it,
// and a pair issued without it has no amr claim at all.
func TestIssueCarriesAMR(t *testing.T) {
	clock := testkit.NewClock()
	codec := newCodec(clock)
	p, err := codec.Issue("kesa", uuid.NewString(), clock.Now(), nil, global.AMRPassword, global.AMROTP)
	if err != nil {
		t.Fatal(err)
	}
	for tok, typ := range map[string]string{p.Access: global.TokenAccess, p.Refresh: global.TokenRefresh} {
		c, err := codec.Parse(tok, typ)
		if err != nil || !slices.Equal(c.AMR, []string{"pwd", "otp"}) {
			t.Fatalf("%s token amr %v, %v", typ, c.AMR, err)
		}
	}
	p.AccessClaims.AMR[0] = "changed"
	if p.RefreshClaims.AMR[0] != "pwd" {
		t.Fatal("the two tokens share one amr slice")
	}
	plain, err := codec.Issue("kesa", uuid.NewString(), clock.Now(), nil)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := base64.RawURLEncoding.DecodeString(strings.Split(plain.Access, ".")[1])
	if strings.Contains(string(payload), "amr") {
		t.Fatalf("a pair issued without amr has the claim: %s", payload)
	}
}

// TestSessionsRecordAMR: a session shows the amr of its tokens, a rotation
// (as the refresh handler does it: the presented token's amr and auth_time)
// keeps it, and a session stored before amr existed reads as none.
func TestSessionsRecordAMR(t *testing.T) {
	ctx := context.Background()
	for _, b := range testkit.Backends(t) {
		t.Run(b.Name, func(t *testing.T) {
			f := newFixture(t, b, 0)
			p, err := f.codec.Issue(f.user, uuid.NewString(), f.clock.Now(), nil, global.AMRPassword, global.AMROTP)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.sessions.Create(ctx, &p, utils.Client{IP: "192.0.2.1", UserAgent: "agent\nwith a newline"}, f.version(t)); err != nil {
				t.Fatal(err)
			}
			sid := p.AccessClaims.SessionID
			want := []string{"pwd", "otp"}
			s, err := f.sessions.Get(ctx, f.user, sid)
			if err != nil || !slices.Equal(s.AMR, want) || s.UserAgent != "agent with a newline" || s.IP != "192.0.2.1" {
				t.Fatalf("session %+v, %v", s, err)
			}
			f.clock.Advance(time.Minute)
			old := p.RefreshClaims
			next, err := f.codec.Issue(old.Username, old.SessionID, time.Unix(old.AuthTime, 0), nil, old.AMR...)
			if err == nil {
				_, err = f.sessions.Rotate(ctx, &old, &next, utils.Client{IP: "192.0.2.2", UserAgent: "other"})
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(next.AccessClaims.AMR, want) || next.AccessClaims.AuthTime != old.AuthTime {
				t.Fatalf("rotated claims amr %v auth_time %d, want %v %d", next.AccessClaims.AMR, next.AccessClaims.AuthTime, want, old.AuthTime)
			}
			list, err := f.sessions.List(ctx, f.user, sid)
			if err != nil || len(list) != 1 || !slices.Equal(list[0].AMR, want) || list[0].IP != "192.0.2.2" {
				t.Fatalf("list after rotation %+v, %v", list, err)
			}

			plain := f.login(t) // issued without amr
			if s, _ := f.sessions.Get(ctx, f.user, plain.AccessClaims.SessionID); s.AMR == nil || len(s.AMR) != 0 {
				t.Fatalf("session without amr: %#v, want an empty list", s.AMR)
			}

			// A value without the amr line (the header, no User-Agent, the IP
			// only) reads as a session without amr.
			legacy := uuid.NewString()
			stamp := string([]byte{0, 0, 0, 1})
			v := strings.Repeat("a", 48) + "0000000000000" + stamp + stamp + strings.Repeat("\x00", 8) + "192.0.2.9"
			if err := b.Client.Set(ctx, "s:{"+f.user+"}:"+rawSID(t, legacy), v, time.Minute).Err(); err != nil {
				t.Fatal(err)
			}
			s, err = f.sessions.Get(ctx, f.user, legacy)
			if err != nil || s.IP != "192.0.2.9" || len(s.AMR) != 0 {
				t.Fatalf("session without amr %+v, %v", s, err)
			}
		})
	}
}
