package dpop

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"fmt"
	"time"

	"github.com/golang-jwt/jwt/v4"

	"go-jwt/utils"
)

// Client is the other side: it signs proofs with one key, as a Go client
// of the service does (the benchmark and the tests use it; a browser does
// the same in web/dpop.js).
type Client struct {
	key    crypto.Signer
	method jwt.SigningMethod
	jwk    utils.JWK
	now    func() time.Time
}

// NewClient returns a client proving possession of key (Ed25519, P-256 or
// RSA of 2048 bits or more) by the clock now.
func NewClient(key crypto.Signer, now func() time.Time) (*Client, error) {
	var alg string
	switch key.(type) {
	case ed25519.PrivateKey:
		alg = utils.AlgEdDSA
	case *ecdsa.PrivateKey:
		alg = utils.AlgES256
	case *rsa.PrivateKey:
		alg = utils.AlgRS256
	default:
		return nil, fmt.Errorf("unsupported DPoP key type %T", key)
	}
	keys, err := utils.NewKeys(alg, key) // the public JWK and its thumbprint, as the JWKS has them
	if err != nil {
		return nil, err
	}
	return &Client{key: key, method: jwt.GetSigningMethod(alg), jwk: keys.JWKS()[0], now: now}, nil
}

// JKT is the thumbprint of the client's key: the cnf.jkt of its tokens.
func (c *Client) JKT() string { return c.jwk.Kid }

// Proof returns a fresh proof for a request of method to htu, with the
// ath of accessToken when it is not empty and nonce when not empty.
func (c *Client) Proof(method, htu, accessToken, nonce string) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	claims := jwt.MapClaims{"jti": base64.RawURLEncoding.EncodeToString(jti), "htm": method, "htu": htu, "iat": c.now().Unix()}
	if accessToken != "" {
		claims["ath"] = ATH(accessToken)
	}
	if nonce != "" {
		claims["nonce"] = nonce
	}
	t := jwt.NewWithClaims(c.method, claims)
	t.Header["typ"] = "dpop+jwt"
	t.Header["jwk"] = c.jwk
	return t.SignedString(c.key)
}
