package mfa

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"strings"
)

// Recovery codes: RecoveryCodes of them, each recoveryLen base32
// characters drawn from crypto/rand (80 bits), shown in groups of four
// ("ABCD-EFGH-IJKL-MNOP") and read back without case, dashes or spaces.
//
// They are stored only as SHA-256 hashes. A slow password hash (argon2id)
// is for secrets a person chose, whose few bits an attacker can walk
// through; here the work of a guess is the same for the attacker's GPU as
// for us, and 2^80 guesses of SHA-256 per code are out of reach (at 10^10
// a second: millions of years), while the check costs a microsecond and
// is one Redis SREM. That is also why a code has 80 bits and not 50: ten
// base32 characters would fall to one GPU in about a day. The hash is
// domain-separated and salted with the user name, so one user's hashes
// say nothing about another's.
const (
	// RecoveryCodes is how many codes one set holds.
	RecoveryCodes = 10
	recoveryLen   = 16
	recoveryGroup = 4
)

// b32Alphabet is RFC 4648's base32 alphabet: no 0, 1, 8 or 9 to mistake
// for O, I or B.
const b32Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

var b32 = base32.NewEncoding(b32Alphabet).WithPadding(base32.NoPadding)

// newRecoveryCodes returns n fresh codes as shown to the user.
func newRecoveryCodes(n int) ([]string, error) {
	out := make([]string, n)
	raw := make([]byte, recoveryLen*5/8)
	for i := range out {
		if _, err := rand.Read(raw); err != nil {
			return nil, err
		}
		c := b32.EncodeToString(raw)
		groups := make([]string, 0, recoveryLen/recoveryGroup)
		for j := 0; j < len(c); j += recoveryGroup {
			groups = append(groups, c[j:j+recoveryGroup])
		}
		out[i] = strings.Join(groups, "-")
	}
	return out, nil
}

// recoveryCode returns code in its stored spelling (upper case, no dashes
// or spaces) if it has the shape of a recovery code.
func recoveryCode(code string) (string, bool) {
	c := strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(code))
	if len(c) != recoveryLen {
		return "", false
	}
	for i := range len(c) {
		if !strings.ContainsRune(b32Alphabet, rune(c[i])) {
			return "", false
		}
	}
	return c, true
}

// recoveryHash is what the store keeps of user's code (as recoveryCode
// spells it): 32 raw bytes.
func recoveryHash(user, code string) string {
	h := sha256.Sum256([]byte("go-jwt recovery-code v1\x00" + user + "\x00" + code))
	return string(h[:])
}

// recoveryHashes hashes a freshly made set for storage.
func recoveryHashes(user string, codes []string) []any {
	out := make([]any, len(codes))
	for i, c := range codes {
		norm, _ := recoveryCode(c)
		out[i] = recoveryHash(user, norm)
	}
	return out
}
