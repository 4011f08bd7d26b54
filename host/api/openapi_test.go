package api

import (
	"bytes"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-chi/chi/v5"
)

// openAPIDoc is the part of the document the tests read.
type openAPIDoc struct {
	OpenAPI    string                                `json:"openapi"`
	Paths      map[string]map[string]json.RawMessage `json:"paths"`
	Components map[string]map[string]json.RawMessage `json:"components"`
}

type openAPIOperation struct {
	OperationID string                     `json:"operationId"`
	Summary     string                     `json:"summary"`
	Responses   map[string]json.RawMessage `json:"responses"`
	Parameters  []struct {
		Ref  string `json:"$ref"`
		Name string `json:"name"`
		In   string `json:"in"`
	} `json:"parameters"`
}

var openAPIMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// TestOpenAPIMatchesRouter walks the router's routes and requires the
// checked-in OpenAPI document to describe exactly them: every route is
// documented and every documented operation is served.
func TestOpenAPIMatchesRouter(t *testing.T) {
	n := startNode(t, "counter", Config{})
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not JSON: %v", err)
	}
	if !strings.HasPrefix(doc.OpenAPI, "3.1.") {
		t.Fatalf("openapi %q, want 3.1.x", doc.OpenAPI)
	}

	var served []string
	err := chi.Walk(n.api.Router(), func(method, route string, _ http.Handler, _ ...func(http.Handler) http.Handler) error {
		served = append(served, method+" "+route)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var documented []string
	for path, item := range doc.Paths {
		for key := range item {
			if !slices.Contains(openAPIMethods, key) {
				if key != "parameters" && key != "summary" && key != "description" {
					t.Errorf("path %s has unexpected member %q", path, key)
				}
				continue
			}
			documented = append(documented, strings.ToUpper(key)+" "+path)
		}
	}
	slices.Sort(served)
	slices.Sort(documented)
	for _, r := range served {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is served but not in openapi.json", r)
		}
	}
	for _, r := range documented {
		if !slices.Contains(served, r) {
			t.Errorf("operation %s is in openapi.json but not served", r)
		}
	}
	if len(served) < 15 {
		t.Errorf("only %d routes walked: %v", len(served), served)
	}
}

// TestOpenAPIDocumentIsConsistent checks the document on its own: unique
// operation ids, responses everywhere, path parameters declared, every
// reference resolving, and the endpoint serving the embedded bytes.
func TestOpenAPIDocumentIsConsistent(t *testing.T) {
	var doc openAPIDoc
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	templateParam := regexp.MustCompile(`\{([^}]+)\}`)
	for path, item := range doc.Paths {
		for method, raw := range item {
			if !slices.Contains(openAPIMethods, method) {
				continue
			}
			var op openAPIOperation
			if err := json.Unmarshal(raw, &op); err != nil {
				t.Fatalf("%s %s: %v", method, path, err)
			}
			where := strings.ToUpper(method) + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Responses) == 0 {
				t.Errorf("%s: operationId %q, summary %q, %d responses", where, op.OperationID, op.Summary, len(op.Responses))
			}
			if other, dup := ids[op.OperationID]; dup {
				t.Errorf("operationId %s used by %s and %s", op.OperationID, other, where)
			}
			ids[op.OperationID] = where
			for _, m := range templateParam.FindAllStringSubmatch(path, -1) {
				declared := false
				for _, p := range op.Parameters {
					declared = declared || (p.In == "path" && p.Name == m[1])
				}
				if !declared {
					t.Errorf("%s: path parameter %s is not declared", where, m[1])
				}
			}
		}
	}
	refs := regexp.MustCompile(`"\$ref":\s*"#/components/([^/"]+)/([^"]+)"`)
	for _, m := range refs.FindAllSubmatch(openAPIDocument, -1) {
		if _, ok := doc.Components[string(m[1])][string(m[2])]; !ok {
			t.Errorf("reference #/components/%s/%s does not resolve", m[1], m[2])
		}
	}

	n := startNode(t, "counter", Config{})
	r := n.get("/openapi.json")
	if r.status != http.StatusOK || r.header.Get("Content-Type") != "application/json" || !bytes.Equal(r.body, openAPIDocument) {
		t.Fatalf("GET /openapi.json: %d %s, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
}
