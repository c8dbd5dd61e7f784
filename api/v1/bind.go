package v1

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"

	"github.com/gin-gonic/gin"

	"go-jwt/global"
)

// maxFormMemory is what a multipart form may keep in memory; the body limit
// middleware bounds the whole body anyway.
const maxFormMemory = 64 << 10

// fields reads the named string fields from a JSON object, an urlencoded form
// or a multipart form, whichever the Content-Type says. A body over the limit
// is global.ErrBodyTooLarge, another content type
// global.ErrUnsupportedMediaType, bad JSON global.ErrInvalidRequest. A body
// with no Content-Type and no content reads as empty.
func fields(c *gin.Context, names ...string) (map[string]string, error) {
	out := make(map[string]string, len(names))
	ct := c.GetHeader("Content-Type")
	if ct == "" && c.Request.ContentLength <= 0 {
		return out, nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil && ct != "" {
		return nil, global.ErrUnsupportedMediaType
	}
	switch mt {
	case "application/json":
		var obj map[string]json.RawMessage
		dec := json.NewDecoder(c.Request.Body)
		if err := dec.Decode(&obj); err != nil {
			return nil, bodyErr(err, "body is not a JSON object")
		}
		if _, err := dec.Token(); !errors.Is(err, io.EOF) {
			return nil, bodyErr(err, "body holds more than one JSON value")
		}
		for _, n := range names {
			raw, ok := obj[n]
			if !ok || string(raw) == "null" {
				continue
			}
			var s string
			if err := json.Unmarshal(raw, &s); err != nil {
				return nil, fmt.Errorf("%w: %s must be a string", global.ErrInvalidRequest, n)
			}
			out[n] = s
		}
	case "application/x-www-form-urlencoded", "multipart/form-data":
		var err error
		if mt == "multipart/form-data" {
			err = c.Request.ParseMultipartForm(maxFormMemory)
		} else {
			err = c.Request.ParseForm()
		}
		if err != nil {
			return nil, bodyErr(err, "malformed form")
		}
		for _, n := range names {
			if v := c.Request.PostForm[n]; len(v) > 0 {
				out[n] = v[0]
			}
		}
	default:
		return nil, global.ErrUnsupportedMediaType
	}
	return out, nil
}

func bodyErr(err error, msg string) error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return global.ErrBodyTooLarge
	}
	return fmt.Errorf("%w: %s", global.ErrInvalidRequest, msg)
}

// required returns an invalid-request error naming the first missing field.
func required(f map[string]string, names ...string) error {
	for _, n := range names {
		if f[n] == "" {
			return fmt.Errorf("%w: %s is required", global.ErrInvalidRequest, n)
		}
	}
	return nil
}

// decodeJSON reads a JSON object body into v: for bodies with more than
// strings in them (a WebAuthn credential). Another content type is
// global.ErrUnsupportedMediaType, a body over the limit
// global.ErrBodyTooLarge, anything but one JSON object
// global.ErrInvalidRequest.
func decodeJSON(c *gin.Context, v any) error {
	if mt, _, err := mime.ParseMediaType(c.GetHeader("Content-Type")); err != nil || mt != "application/json" {
		return global.ErrUnsupportedMediaType
	}
	dec := json.NewDecoder(c.Request.Body)
	if err := dec.Decode(v); err != nil {
		return bodyErr(err, "body is not the JSON object expected")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return bodyErr(err, "body holds more than one JSON value")
	}
	return nil
}
