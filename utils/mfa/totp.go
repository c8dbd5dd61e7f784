package mfa

import (
	"crypto/rand"
	"encoding/base64"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
	"github.com/skip2/go-qrcode"
)

// TOTP parameters (RFC 6238): what every authenticator app assumes when an
// otpauth URI names nothing else.
const (
	// Period is the length of one time step.
	Period = 30 * time.Second
	// Digits is the length of a code.
	Digits = 6
	// Skew is how many steps before and after the current one are accepted:
	// a phone's clock a little off, or a code typed as it turned over.
	Skew = 1
	// secretSize is the secret's length in bytes: RFC 4226 §4 recommends 160
	// bits, HMAC-SHA-1's block output.
	secretSize = 20
	// qrSize is the QR code's width and height in pixels.
	qrSize = 256
)

// oneStep validates a code against exactly one time step: ValidateCustom is
// called once per candidate step (with Skew 0), so the step that matched is
// known and can be remembered against replay.
var oneStep = totp.ValidateOpts{Period: uint(Period / time.Second), Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// newKey makes a fresh secret for user with the otpauth:// URI that
// authenticator apps read (issuer: JWT_ISSUER).
func newKey(issuer, user string) (*otp.Key, error) {
	return totp.Generate(totp.GenerateOpts{
		Issuer: issuer, AccountName: user, Period: uint(Period / time.Second), SecretSize: secretSize,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1, Rand: rand.Reader,
	})
}

// qrDataURL draws uri as a QR code: a PNG data URL an <img> shows as is.
func qrDataURL(uri string) (string, error) {
	png, err := qrcode.Encode(uri, qrcode.Medium, qrSize)
	if err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(png), nil
}

// totpCode returns code without spaces if it has the shape of a TOTP code
// (six ASCII digits; "123 456" as some apps show it is fine).
func totpCode(code string) (string, bool) {
	c := strings.ReplaceAll(strings.TrimSpace(code), " ", "")
	if len(c) != Digits {
		return "", false
	}
	for i := range len(c) {
		if c[i] < '0' || c[i] > '9' {
			return "", false
		}
	}
	return c, true
}

// matchStep returns the latest time step within Skew steps of now whose
// code for secret is code, and false when none is.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	best, found := int64(0), false
	for d := -Skew; d <= Skew; d++ {
		at := now.Add(time.Duration(d) * Period)
		ok, err := totp.ValidateCustom(code, secret, at, oneStep)
		if err != nil || !ok {
			continue
		}
		if step := at.Unix() / int64(Period/time.Second); !found || step > best {
			best, found = step, true
		}
	}
	return best, found
}

// Code returns the TOTP code of secret at t: what an authenticator app
// shows (tests and tools; the service only verifies).
func Code(secret string, t time.Time) (string, error) {
	return totp.GenerateCodeCustom(secret, t, oneStep)
}
