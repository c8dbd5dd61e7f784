// Package web holds the demo front end: a plain HTML, CSS and JavaScript
// page that signs in against the API, keeps the access token in memory and
// the refresh token in the HttpOnly cookie, and lists the user's sessions.
// No build step: the files are served as written.
package web

import "embed"

// FS holds index.html, app.js, dpop.js, mfa.js, passkeys.js and style.css,
// embedded so the binary serves the page (DEMO_PAGE=on) without any file
// beside it.
//
//go:embed index.html app.js dpop.js mfa.js passkeys.js style.css
var FS embed.FS
