package api

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/go-chi/chi/v5"
)

// statusRecorder remembers the status a handler wrote, for metrics and
// logs. It forwards flushes (the event stream needs them) and unwraps for
// http.ResponseController.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Flush() {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("response writer cannot be hijacked")
	}
	return h.Hijack()
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// instrument counts every request by route pattern, method and status, and
// logs it: server errors at error level, the rest at debug level.
func (s *Server) instrument(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r)
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		route := "unmatched"
		if rc := chi.RouteContext(r.Context()); rc != nil && rc.RoutePattern() != "" {
			route = rc.RoutePattern()
		}
		s.metrics.request(r.Method, route, status)
		level := slog.LevelDebug
		switch {
		case status == http.StatusServiceUnavailable:
			// Expected while a cluster changes: no primary yet, replicas
			// not in sync, a replica being rebuilt. The answer says why.
			level = slog.LevelWarn
		case status >= 500 && status != http.StatusNotImplemented:
			level = slog.LevelError
		}
		if s.log.Enabled(r.Context(), level) {
			s.log.Log(r.Context(), level, "http request", "method", r.Method, "route", route, "path", truncate(r.URL.Path, 200),
				"status", status, "took", time.Since(start), "remote", r.RemoteAddr)
		}
	})
}

// recoverer turns a handler panic into a 500 problem and a log line with
// the stack, so one bad request never takes the node down.
func (s *Server) recoverer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			rec := recover()
			if rec == nil {
				return
			}
			if rec == http.ErrAbortHandler {
				panic(rec) // the server's own way of aborting a response
			}
			s.log.Error("handler panicked", "method", r.Method, "path", truncate(r.URL.Path, 200), "panic", fmt.Sprint(rec), "stack", string(debug.Stack()))
			writeProblem(w, http.StatusInternalServerError, "internal", "internal error", "the request failed inside the server; see the node's log")
		}()
		next.ServeHTTP(w, r)
	})
}

// limitBody caps every request body at MaxBodyBytes (a catalog upload at
// MaxModuleBytes): a declared length
// above it is refused at once, and reading past it fails with
// *http.MaxBytesError, which handlers answer with 413.
func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		limit := s.cfg.MaxBodyBytes
		if r.Method == http.MethodPost && r.URL.Path == catalogUploadPath {
			limit = s.cfg.MaxModuleBytes
		}
		if r.ContentLength > limit {
			sendProblem(w, bodyTooLarge(limit))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		next.ServeHTTP(w, r)
	})
}

// authorize requires the bearer token on mutating requests, and on every
// request when reads are protected. The comparison is of SHA-256 digests
// in constant time, so neither the token's content nor its length leaks
// through timing.
func (s *Server) authorize(next http.Handler) http.Handler {
	if s.cfg.AuthToken == "" {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !s.cfg.ProtectReads && safeMethod(r.Method) {
			next.ServeHTTP(w, r)
			return
		}
		header := r.Header.Get("Authorization")
		scheme, token, found := strings.Cut(header, " ")
		if header == "" || !found || !strings.EqualFold(scheme, "Bearer") {
			w.Header().Set("WWW-Authenticate", `Bearer realm="reprise"`)
			writeProblem(w, http.StatusUnauthorized, "unauthorized", "authentication required",
				"send the node's token as \"Authorization: Bearer <token>\"")
			return
		}
		given := sha256.Sum256([]byte(strings.TrimSpace(token)))
		if subtle.ConstantTimeCompare(given[:], s.tokenHash[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="reprise", error="invalid_token"`)
			writeProblem(w, http.StatusUnauthorized, "invalid_token", "authentication failed", "the bearer token is not the node's token")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}
