// Command verify is how a downstream Go service checks go-jwt's access
// tokens on its own: it fetches the service's public keys (the JWK Set at
// /.well-known/jwks.json), verifies the token with the key its kid names,
// pins the algorithm, requires the issuer, an unexpired exp and type
// access, and prints the username.
//
//	go run ./examples/verify -jwks http://localhost:9090/.well-known/jwks.json -alg EdDSA <accessToken>
//
// A verified token was signed by the service and has not expired; whether it
// was revoked since (logout) only the service knows: ask POST
// /public/introspect where that matters (docs/SCALING.md).
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"os"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "verify:", err)
		os.Exit(1)
	}
}

// run verifies the token named by args and prints its username to out.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	jwksURL := fs.String("jwks", "http://localhost:9090/.well-known/jwks.json", "the service's JWK Set")
	alg := fs.String("alg", "EdDSA", "the service's JWT_ALG: the only algorithm accepted")
	issuer := fs.String("iss", "jwt-demo", "the service's JWT_ISSUER")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: verify [-jwks URL] [-alg EdDSA|ES256|RS256] [-iss ISSUER] ACCESS_TOKEN")
	}
	keys, err := FetchKeys(ctx, http.DefaultClient, *jwksURL, *alg)
	if err != nil {
		return err
	}
	name, err := Verify(fs.Arg(0), keys, *alg, *issuer, time.Now())
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, name)
	return err
}

// Claims are the claims of go-jwt's tokens this service reads.
type Claims struct {
	Username string `json:"username"`
	Type     string `json:"type"`
	jwt.RegisteredClaims
}

// Verify checks token with keys (by kid) and returns its username. The
// parser accepts alg only: neither "none" nor an HS256 token keyed with a
// public key gets through.
func Verify(token string, keys map[string]any, alg, issuer string, now time.Time) (string, error) {
	var c Claims
	_, err := jwt.NewParser(jwt.WithValidMethods([]string{alg})).ParseWithClaims(token, &c, func(t *jwt.Token) (any, error) {
		kid, _ := t.Header["kid"].(string)
		if k, ok := keys[kid]; ok {
			return k, nil
		}
		return nil, fmt.Errorf("unknown kid %q: fetch the JWK Set again", kid)
	})
	switch {
	case err != nil:
		return "", err
	case !c.VerifyExpiresAt(now, true): // jwt/v4 does not require exp by itself
		return "", errors.New("token expired or without exp")
	case !c.VerifyIssuer(issuer, true):
		return "", fmt.Errorf("token issuer %q, want %q", c.Issuer, issuer)
	case c.Type != "access" || c.Username == "":
		return "", errors.New("not an access token")
	}
	return c.Username, nil
}

// FetchKeys reads the JWK Set at url and returns its signing keys for alg
// by kid. A long-running service keeps them, and fetches again at most every
// five minutes (the set's Cache-Control) or when a token names a new kid.
func FetchKeys(ctx context.Context, client *http.Client, url, alg string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	var set struct{ Keys []jwk }
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	keys := map[string]any{}
	for _, k := range set.Keys {
		if k.Alg != alg || k.Use != "sig" {
			continue
		}
		if keys[k.Kid], err = publicKey(k); err != nil {
			return nil, fmt.Errorf("key %q: %w", k.Kid, err)
		}
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("GET %s: no %s signing key", url, alg)
	}
	return keys, nil
}

// jwk is one key of a JWK Set (RFC 7517; Ed25519: RFC 8037).
type jwk struct{ Kty, Crv, X, Y, N, E, Kid, Use, Alg string }

func publicKey(k jwk) (any, error) {
	dec := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "OKP":
		x, err := dec(k.X)
		if err != nil || k.Crv != "Ed25519" || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("not an Ed25519 key")
		}
		return ed25519.PublicKey(x), nil
	case "EC":
		x, errX := dec(k.X)
		y, errY := dec(k.Y)
		if errX != nil || errY != nil || k.Crv != "P-256" {
			return nil, errors.New("not a P-256 key")
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	case "RSA":
		n, errN := dec(k.N)
		e, errE := dec(k.E)
		if errN != nil || errE != nil || len(e) == 0 || len(e) > 4 {
			return nil, errors.New("not an RSA key")
		}
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: int(new(big.Int).SetBytes(e).Int64())}, nil
	}
	return nil, fmt.Errorf("unsupported key type %q", k.Kty)
}
