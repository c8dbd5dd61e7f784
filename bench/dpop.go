package main

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-redis/redis/v8"

	"go-jwt/utils/dpop"
)

// DPoP welcome: GET /user/welcome with a DPoP-bound access token and a fresh
// proof each time (SPEC §14): one ES256 signature verified and one more
// Redis command (the proof's jti, in the same round trip as the revocation
// check) on top of the Bearer welcome.
//
// Each connection logs in bound to a key of its own: P-256 (ES256, what
// the demo page's WebCrypto key is), or with ed Ed25519 (EdDSA, whose
// signatures verify faster). The load generator
// shares the machine with the service, so the proofs it sends are signed
// before the clock starts, as many as a connection can plausibly use
// (proofsPerSecond for the whole window); one that runs out signs more on
// the fly, and the run says how many it had to.
const proofsPerSecond = 800

// dpopHost is what the benchmark's requests say in Host (client.go): the
// htu of every proof.
const dpopHost = "http://bench"

// dpopWorker is one connection's key and its proofs, signed ahead.
type dpopWorker struct {
	client *dpop.Client
	access string
	proofs []string
}

var (
	dpopWorkers sync.Map // *worker → *dpopWorker
	signedLate  atomic.Int64
)

// dpopTarget is the DPoP welcome as a target of the interleaved rounds:
// each connection logs in as one of users with a proof of a key of its own
// (P-256, or Ed25519 with ed), then calls welcome with that bound token and
// a new proof each time. d is the window, to sign enough proofs ahead.
func dpopTarget(addr string, users []string, d time.Duration, ed bool) target {
	per := int(d.Seconds()*proofsPerSecond) + 1
	t := target{short: "dpop", label: "service `GET /user/welcome`, DPoP ES256", addr: addr, service: true}
	if ed {
		t.short, t.label = "dpop-ed", "service `GET /user/welcome`, DPoP EdDSA"
	}
	var mu sync.Mutex
	next := 0
	t.setup = func(w *worker) error {
		mu.Lock()
		user := users[next%len(users)]
		next++
		mu.Unlock()
		var key crypto.Signer
		var err error
		if ed {
			_, key, err = ed25519.GenerateKey(rand.Reader)
		} else {
			key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		}
		if err != nil {
			return err
		}
		dw := &dpopWorker{}
		if dw.client, err = dpop.NewClient(key, time.Now); err != nil {
			return err
		}
		proof, err := dw.client.Proof("POST", dpopHost+"/public/login", "", "")
		if err != nil {
			return err
		}
		status, body, err := w.c.do("POST", "/public/login", append([]string{"DPoP: " + proof}, formHeader...),
			[]byte("username="+user+"&password=bench-password"))
		if err := expect(status, body, err); err != nil {
			return err
		}
		var ok bool
		if dw.access, ok = field(body, `"accessToken":"`); !ok {
			return fmt.Errorf("not a token pair: %s", body)
		}
		if tt, _ := field(body, `"tokenType":"`); tt != "DPoP" {
			return fmt.Errorf("login with a proof gave a %q pair", tt)
		}
		w.user = user
		w.accessH = []string{"Authorization: DPoP " + dw.access}
		for range per {
			p, err := dw.client.Proof("GET", dpopHost+"/user/welcome", dw.access, "")
			if err != nil {
				return err
			}
			dw.proofs = append(dw.proofs, p)
		}
		dpopWorkers.Store(w, dw)
		return nil
	}
	t.do = func(w *worker) error {
		v, _ := dpopWorkers.Load(w)
		dw := v.(*dpopWorker)
		var proof string
		if n := len(dw.proofs); n > 0 {
			proof, dw.proofs = dw.proofs[n-1], dw.proofs[:n-1]
		} else {
			signedLate.Add(1)
			var err error
			if proof, err = dw.client.Proof("GET", dpopHost+"/user/welcome", dw.access, ""); err != nil {
				return err
			}
		}
		return expect(w.c.do("GET", "/user/welcome", append(w.accessH, "DPoP: "+proof), nil))
	}
	return t
}

// forgetProofs deletes the used-jti keys the run left behind.
func forgetProofs(rdb *redis.Client) error {
	ctx := context.Background()
	iter := rdb.Scan(ctx, 0, "dpop:*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		if batch = append(batch, iter.Val()); len(batch) == 1000 {
			if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := rdb.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
	}
	return iter.Err()
}
