// Package api is the HTTP surface of a Reprise node (chi): the
// SWOOSH-compatible endpoints CHORUS calls (POST /transition, GET /state,
// GET /health) with SWOOSH's field names and response shapes, and errors as
// RFC 9457 problem+json with a stable code everywhere that shape is not
// fixed by SWOOSH.
//
// It translates between HTTP and the executor; it must never apply a
// transition itself, never answer before the executor's verdict, and never
// let one bad request affect another.
package api
