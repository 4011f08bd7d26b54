package api

import (
	_ "embed"
	"net/http"
)

// openAPIDocument is the OpenAPI 3.1 description of every endpoint, served
// at GET /openapi.json. A test compares its paths and methods with the
// routes the router serves, both ways.
//
//go:embed openapi.json
var openAPIDocument []byte

func getOpenAPI(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(openAPIDocument)
}
