// Package middleware holds the Gin middleware: JWT authentication, request
// ids, access logging, panic recovery and body limits. Each is a closure over
// its dependencies.
package middleware

import (
	"context"
	"strings"
	"sync"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
	"go-jwt/response"
	"go-jwt/utils"
)

// TokenParser verifies a token's signature and claims.
type TokenParser interface {
	Parse(token, want string) (*utils.Claims, error)
}

// AccessChecker tells whether an access token is still live (not revoked).
type AccessChecker interface {
	CheckAccess(ctx context.Context, c *utils.Claims) error
}

// JWT guards the private routes: it needs a valid access token in the
// Authorization header whose session Redis still holds. Every failure is 401
// invalid_token with WWW-Authenticate; a Redis failure is 503, never 401.
// With d (DPOP not off), "Authorization: DPoP" tokens are served by d
// (dpop.go), and a DPoP-bound token sent as Bearer is refused; a Bearer
// token without cnf takes the same path as without d.
func JWT(tokens TokenParser, sessions AccessChecker, d *DPoP) gin.HandlerFunc {
	return jwtAuth(tokens, sessions, d, false)
}

// JWTForwarded is JWT for forward authentication (/auth/verify, SPEC §13):
// a DPoP proof must name the request the trusted proxy asks about
// (X-Forwarded-Method and -Uri), not the verification request itself.
func JWTForwarded(tokens TokenParser, sessions AccessChecker, d *DPoP) gin.HandlerFunc {
	return jwtAuth(tokens, sessions, d, true)
}

func jwtAuth(tokens TokenParser, sessions AccessChecker, d *DPoP, forwarded bool) gin.HandlerFunc {
	return func(c *gin.Context) {
		header := c.GetHeader("Authorization")
		raw, presented := BearerToken(header)
		if raw == "" && d != nil {
			if tok, ok := DPoPToken(header); ok {
				d.serve(c, tokens, tok, forwarded)
				return
			}
		}
		claims, err := tokens.Parse(raw, global.TokenAccess)
		if err == nil && (claims.Cnf != nil || d.required()) {
			err = d.bearerRefused(claims)
		}
		if err == nil {
			err = sessions.CheckAccess(c.Request.Context(), claims)
		}
		if err != nil {
			response.Challenge(c, presented)
			response.Error(c, err)
			return
		}
		withClaims(c, claims)
	}
}

// withClaims runs the rest of the chain with claims stored for Claims. The
// c.Keys map they are stored in is lent from a pool and taken back when the
// chain returns: gin would make a new map per request, and that map was a
// tenth of a private request's allocated bytes. Nothing holds c past the
// chain (no handler keeps the context or hands it to a goroutine; c.Copy
// would copy the map), and nothing after it reads c.Keys.
func withClaims(c *gin.Context, claims *utils.Claims) {
	if c.Keys != nil { // something before stored a value: keep its map
		c.Set(global.CtxClaims, claims)
		c.Next()
		return
	}
	keys := keysPool.Get().(map[any]any)
	c.Keys = keys
	keys[global.CtxClaims] = claims
	c.Next()
	c.Keys = nil
	clear(keys)
	keysPool.Put(keys)
}

var keysPool = sync.Pool{New: func() any { return make(map[any]any, 4) }}

// BearerToken returns the token of an "Authorization: Bearer <token>" header
// (scheme in any case, RFC 7235) and whether any credentials were presented.
// A header with another scheme counts as presented with an empty token.
func BearerToken(header string) (token string, presented bool) {
	header = strings.TrimSpace(header)
	if header == "" {
		return "", false
	}
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(rest), true
}

// Claims returns the verified claims that JWT stored for this request.
func Claims(c *gin.Context) *utils.Claims {
	v, _ := c.Get(global.CtxClaims)
	claims, _ := v.(*utils.Claims)
	return claims
}
