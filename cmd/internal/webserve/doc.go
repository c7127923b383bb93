// Package webserve holds what Copenhagen's HTTP server puts around its
// handlers and the exporter-toolkit: a bound on request bodies, and the
// web config file (TLS, basic auth) loaded at start and on reload only.
//
// The toolkit re-reads its web config file on every request and every TLS
// handshake, by design. Pointed at the user's file, that means an edit
// takes effect before any reload: a broken password hash locks everyone
// out and removing basic_auth_users turns authentication off, with no
// reload and nothing logged. WebConfig instead hands the toolkit a private
// copy that is replaced only by a reload that validated the new file, so
// the file the server obeys is always one that was checked, and a bad edit
// keeps the previous one running, like every other part of a reload.
package webserve
