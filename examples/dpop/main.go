// Command dpop is a Go client of go-jwt with sender-constrained tokens
// (DPoP, RFC 9449): it makes a P-256 key that never leaves the process,
// logs in with a proof of it, so the token pair it gets is bound to that
// key, and calls /user/welcome with the bound access token and a fresh
// proof. Whoever copies the token without the key gets 401.
//
//	go run ./examples/dpop -api http://localhost:9090 -user kesa -password 123
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v4"
)

func main() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dpop:", err)
		os.Exit(1)
	}
}

// run logs in bound to a fresh key and prints the token type and the
// greeting of /user/welcome.
func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("dpop", flag.ContinueOnError)
	api := fs.String("api", "http://localhost:9090", "the service's base URL")
	user := fs.String("user", "kesa", "username")
	password := fs.String("password", "123", "password")
	if err := fs.Parse(args); err != nil {
		return err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	c := &Client{Key: key, HTTP: http.DefaultClient}
	body := url.Values{"username": {*user}, "password": {*password}}.Encode()
	res, err := c.Do(ctx, http.MethodPost, *api+"/public/login", body, "")
	if err != nil {
		return err
	}
	var pair struct{ AccessToken, TokenType string }
	if err := json.Unmarshal(res, &pair); err != nil {
		return err
	}
	greeting, err := c.Do(ctx, http.MethodGet, *api+"/user/welcome", "", pair.AccessToken)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "%s\n%s\n", pair.TokenType, greeting)
	return err
}

// Proof is a DPoP proof for a request of method to target, signed with
// key: a JWT whose header carries the public key and whose claims name the
// request. ath binds it to the access token it is sent with; nonce is the
// server's (DPoP-Nonce), when it asks for one.
func Proof(key *ecdsa.PrivateKey, method, target, accessToken, nonce string) (string, error) {
	b64 := base64.RawURLEncoding.EncodeToString
	point, err := key.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		return "", err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return "", err
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", err
	}
	claims := jwt.MapClaims{"jti": b64(id), "htm": method, "htu": u.Scheme + "://" + u.Host + u.Path, "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		claims["ath"] = b64(sum[:])
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	t := jwt.NewWithClaims(jwt.SigningMethodES256, claims)
	t.Header["typ"] = "dpop+jwt"
	t.Header["jwk"] = map[string]string{"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:])}
	return t.SignedString(key)
}

// Client makes requests with a proof of Key each.
type Client struct {
	Key   *ecdsa.PrivateKey
	HTTP  *http.Client
	nonce string // the server's latest DPoP-Nonce
}

// Do sends a request with a fresh proof (and the bound token as
// "Authorization: DPoP" when token is set; a form body when body is set)
// and returns the body of a 2xx answer. Asked for the server's nonce, it
// sends the request once more with it.
func (c *Client) Do(ctx context.Context, method, target, body, token string) ([]byte, error) {
	for attempt := 0; ; attempt++ {
		proof, err := Proof(c.Key, method, target, token, c.nonce)
		if err != nil {
			return nil, err
		}
		req, err := http.NewRequestWithContext(ctx, method, target, strings.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("DPoP", proof)
		if token != "" {
			req.Header.Set("Authorization", "DPoP "+token)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		res, err := c.HTTP.Do(req)
		if err != nil {
			return nil, err
		}
		data, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
		_ = res.Body.Close()
		if err != nil {
			return nil, err
		}
		fresh := res.Header.Get("DPoP-Nonce")
		if attempt == 0 && fresh != "" && fresh != c.nonce && strings.Contains(string(data), `"use_dpop_nonce"`) {
			c.nonce = fresh
			continue
		}
		if fresh != "" {
			c.nonce = fresh
		}
		if res.StatusCode/100 != 2 {
			return nil, fmt.Errorf("%s %s: %s %s", method, target, res.Status, data)
		}
		return data, nil
	}
}
