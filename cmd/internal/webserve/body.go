package webserve

import (
	"fmt"
	"net/http"
)

// LimitBody refuses request bodies larger than max bytes on every method
// that carries one (POST, PUT, PATCH, DELETE): a declared Content-Length
// over max is answered 413 before anything is read, and a body without
// one is cut at max (the handler sees a read error and the connection is
// closed). GET and HEAD pass unchanged.
func LimitBody(max int64, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			next.ServeHTTP(w, r)
			return
		}
		if r.ContentLength > max {
			w.Header().Set("Connection", "close")
			http.Error(w, fmt.Sprintf("request body of %d bytes is larger than the limit of %d bytes (http.max_request_body_size)", r.ContentLength, max), http.StatusRequestEntityTooLarge)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, max)
		next.ServeHTTP(w, r)
	})
}
