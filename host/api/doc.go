// Package api is the HTTP surface of a Reprise node (chi):
//
//   - the SWOOSH-compatible endpoints CHORUS calls (POST /transition,
//     GET /state with ?projection=, GET /health) with SWOOSH's field names
//     and response shapes;
//   - the WHOOSH-compatible adapter paths under /api/v1, mapping a request
//     to exactly one catalogued transition (council role claims) or
//     answering 501;
//   - Reprise's own API under /v1 (state and hashes at an index, WAL
//     ranges, a resumable server-sent-event stream of committed records,
//     snapshots, the catalog in force);
//   - /metrics (Prometheus text format, fed by the executor's Observer)
//     and /openapi.json (the checked-in OpenAPI 3.1 document, kept equal
//     to the router's routes by a test);
//   - in a cluster (Config.Cluster): GET /v1/replication, writes on a
//     replica answered with a 307 to the primary's API, reads that say the
//     index they reflect (Reprise-Read-Index) and are refused while the
//     node's state must not be served, every response naming the node's
//     role (Reprise-Role).
//
// Errors are RFC 9457 problem+json with a stable code everywhere SWOOSH
// does not fix the shape. Bearer-token access, body limits and server
// timeouts apply to every route.
//
// It translates between HTTP and the executor; it must never apply a
// transition itself, never answer before the executor's verdict, never let
// a reader (an event stream included) hold up the writer, never let one
// bad request affect another, and never decide replication (roles, epochs
// and readability are the replication node's to say).
package api
