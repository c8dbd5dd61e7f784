package proc

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// Pair is the token pair of login and refresh.
type Pair struct {
	Access  string `json:"accessToken"`
	Refresh string `json:"refreshToken"`
}

// Answer is a response read whole (64 KiB at most).
type Answer struct {
	Status int
	Header http.Header
	Body   string
}

// String gives the status and the quoted body, for failure messages.
func (a Answer) String() string { return fmt.Sprintf("%d %q", a.Status, a.Body) }

// Call sends one request and reads the whole answer. form, when not nil, is
// sent urlencoded; bearer, when not empty, as Authorization.
func Call(ctx context.Context, c *http.Client, method, u, bearer string, form url.Values) (Answer, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		return Answer{}, err
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.Do(req)
	if err != nil {
		return Answer{}, err
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	_ = resp.Body.Close()
	if err != nil {
		return Answer{Status: resp.StatusCode}, fmt.Errorf("reading the %s answer: %w", resp.Status, err)
	}
	return Answer{Status: resp.StatusCode, Header: resp.Header, Body: string(b)}, nil
}
