// Package docs holds the OpenAPI 3 description of the HTTP API
// (openapi.yaml), embedded so the binary serves the very document the tests
// validate every answer against.
package docs

import _ "embed" // for go:embed

// OpenAPI is docs/openapi.yaml: every route, body and error of the API.
// Served at GET /openapi.yaml; read-only.
//
//go:embed openapi.yaml
var OpenAPI []byte
