package utils

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"go-jwt/global"
)

// Role rules (SPEC §10): a role is a short lower-case name, a user has at
// most maxRoles of them. Both the admin API and the operator command line
// validate with ParseRoles, and initialize with it validates DEFAULT_ROLES.
const maxRoles = 16

var rolePattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// ParseRoles validates roles and returns them sorted, without duplicates
// (never nil: an empty list is a user without roles). A bad name or too many
// is global.ErrInvalidRequest naming the problem.
func ParseRoles(roles []string) ([]string, error) {
	out := make([]string, 0, len(roles))
	for _, r := range roles {
		if !rolePattern.MatchString(r) {
			return nil, fmt.Errorf("%w: role %q: want a lower-case letter, then up to 31 lower-case letters, digits, '_' or '-'",
				global.ErrInvalidRequest, r)
		}
		out = append(out, r)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxRoles {
		return nil, fmt.Errorf("%w: at most %d roles, got %d", global.ErrInvalidRequest, maxRoles, len(out))
	}
	return out, nil
}

// HasRole reports whether roles holds any of want.
func HasRole(roles []string, want ...string) bool {
	for _, w := range want {
		if slices.Contains(roles, w) {
			return true
		}
	}
	return false
}

// joinRoles and splitRoles are the stored form: one comma list, the
// shortest value that keeps the user's hash in Redis's compact encoding.
func joinRoles(roles []string) string { return strings.Join(roles, ",") }

func splitRoles(s string) []string {
	if s == "" {
		return []string{}
	}
	return strings.Split(s, ",")
}

// Password rules for new passwords (registration, a user's own change, an
// admin's reset, the command line). The upper bound keeps the cost of
// hashing bounded; the demo user is exempt so the tutorial's "123" works.
const (
	minPassword = 8
	maxPassword = 128
)

// ValidPassword checks a new password against the rules:
// global.ErrInvalidRequest saying why when it breaks them.
func ValidPassword(p string) error {
	if n := utf8.RuneCountInString(p); n < minPassword || n > maxPassword {
		return fmt.Errorf("%w: password must be %d to %d characters", global.ErrInvalidRequest, minPassword, maxPassword)
	}
	return nil
}
