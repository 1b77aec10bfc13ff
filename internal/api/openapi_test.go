package api_test

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/server"
	"github.com/dissent-channel/dissent/internal/store"
)

// apiMD is every call of ../shared/design/API.md, copied here because the
// design folder is not part of the module (and may be absent in CI).
var apiMD = []string{
	"POST /api/v1/sessions",
	"DELETE /api/v1/sessions/current",
	"POST /api/v1/users",
	"GET /api/v1/users",
	"GET /api/v1/me",
	"GET /api/v1/admin/distribution",
	"PUT /api/v1/admin/distribution",
	"POST /api/v1/memos",
	"GET /api/v1/memos",
	"GET /api/v1/memos/{id}",
	"PUT /api/v1/memos/{id}",
	"POST /api/v1/memos/{id}/signers",
	"POST /api/v1/memos/{id}/signatures",
	"DELETE /api/v1/memos/{id}/signatures/me",
	"POST /api/v1/memos/{id}/submit",
	"POST /api/v1/memos/{id}/acknowledge",
	"POST /api/v1/memos/{id}/return",
	"POST /api/v1/memos/{id}/withdraw",
	"POST /api/v1/memos/{id}/distribution",
	"POST /api/v1/memos/{id}/comments",
	"POST /api/v1/memos/{id}/meetings",
	"POST /api/v1/memos/{id}/reply",
	"POST /api/v1/memos/{id}/close",
	"GET /api/v1/memos/{id}/access",
	"GET /api/v1/ledger/checkpoint",
	"GET /api/v1/ledger/proof",
	"GET /api/v1/ledger/consistency",
	"GET /api/v1/stats",
	"GET /api/v1/openapi.json",
	"GET /healthz",
	"GET /readyz",
	"GET /metrics",
}

var httpMethods = []string{"GET", "POST", "PUT", "PATCH", "DELETE"}

// TestOpenAPI: GET /api/v1/openapi.json is an OpenAPI 3.1.0 document that
// lists every call of API.md and every route the server answers, with the
// right methods, and no route it does not answer.
func TestOpenAPI(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) { testOpenAPI(t, st) })
}

func testOpenAPI(t *testing.T, st store.Store) {
	e := newEnv(t, st)
	r := e.must(http.StatusOK, "", "GET", "/api/v1/openapi.json", nil)
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("Content-Type %q", ct)
	}
	var doc struct {
		OpenAPI    string                               `json:"openapi"`
		Info       map[string]any                       `json:"info"`
		Paths      map[string]map[string]map[string]any `json:"paths"`
		Components struct {
			Schemas map[string]any `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("openapi.json is not the JSON of an OpenAPI document: %v", err)
	}
	if doc.OpenAPI != "3.1.0" || doc.Info["title"] == nil || doc.Info["version"] == nil {
		t.Errorf("openapi %q, info %v", doc.OpenAPI, doc.Info)
	}
	documented := map[string]bool{}
	for path, item := range doc.Paths {
		for method, op := range item {
			documented[strings.ToUpper(method)+" "+path] = true
			if op["responses"] == nil || op["operationId"] == nil {
				t.Errorf("%s %s: no responses or operationId", method, path)
			}
			for _, p := range pathParamNames(path) {
				if !hasParam(op, p) {
					t.Errorf("%s %s: path parameter %q is not described", method, path, p)
				}
			}
		}
	}
	for _, call := range apiMD {
		if !documented[call] {
			t.Errorf("API.md's %s is not in the OpenAPI document", call)
		}
	}
	// Every $ref names a schema the document has.
	var refs func(v any)
	refs = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			if ref, ok := x["$ref"].(string); ok {
				name, found := strings.CutPrefix(ref, "#/components/schemas/")
				if _, ok := doc.Components.Schemas[name]; !found || !ok {
					t.Errorf("dangling $ref %q", ref)
				}
			}
			for _, c := range x {
				refs(c)
			}
		case []any:
			for _, c := range x {
				refs(c)
			}
		}
	}
	var whole any
	_ = json.Unmarshal(r.body, &whole)
	refs(whole)

	// The whole deployment as served: the API, health, metrics.
	full := httptest.NewServer(server.Handler(e.h.Svc, &config.Config{}, slog.New(slog.DiscardHandler), nil))
	t.Cleanup(full.Close)
	// Every documented operation is served, as exactly that pattern on the
	// API's mux (or, for what server.Handler adds, answers at all).
	for call := range documented {
		method, path, _ := strings.Cut(call, " ")
		req := httptest.NewRequest(method, sample(path), nil)
		_, pattern := e.mux.Handler(req)
		if pattern == call {
			continue
		}
		if pattern != "" && pattern != "/api/" {
			t.Errorf("%s is documented, but the mux routes it to %q", call, pattern)
			continue
		}
		resp, err := full.Client().Do(mustRequest(t, method, full.URL+sample(path)))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed {
			t.Errorf("%s is documented but not served (%d)", call, resp.StatusCode)
		}
	}
	// Every route served is documented. A ServeMux cannot list its
	// patterns, so probe every method on every documented path, its
	// prefixes and likely neighbours: whatever the mux routes to a pattern
	// other than the catch-all 404 must be in the document.
	for _, path := range probes(doc.Paths) {
		for _, method := range httpMethods {
			_, pattern := e.mux.Handler(httptest.NewRequest(method, sample(path), nil))
			if pattern == "" || pattern == "/api/" {
				continue
			}
			pm, pp, ok := strings.Cut(pattern, " ")
			if !ok {
				t.Errorf("route %q serves every method", pattern)
				continue
			}
			if !documented[pm+" "+pp] {
				t.Errorf("the mux serves %s, which the OpenAPI document does not list", pattern)
			}
		}
	}
}

// probes are the paths to try: the documented ones, each of their
// prefixes, and each with a trailing slash or a likely extra segment.
func probes(paths map[string]map[string]map[string]any) []string {
	seen := map[string]bool{}
	add := func(p string) { seen[p] = true }
	for path := range paths {
		parts := strings.Split(strings.Trim(path, "/"), "/")
		for i := 1; i <= len(parts); i++ {
			prefix := "/" + strings.Join(parts[:i], "/")
			add(prefix)
			add(prefix + "/")
			for _, extra := range []string{"{id}", "export", "csv", "all", "me", "current", "admin", "bundle", "pdf"} {
				add(prefix + "/" + extra)
			}
		}
	}
	out := make([]string, 0, len(seen))
	for p := range seen {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// sample fills a path's parameters with plausible values.
func sample(path string) string {
	r := strings.NewReplacer("{id}", "abcdefghijklmnopqrstuvwxyz", "{username}", "someone")
	return r.Replace(path)
}

func pathParamNames(path string) []string {
	var names []string
	for _, part := range strings.Split(path, "/") {
		if strings.HasPrefix(part, "{") && strings.HasSuffix(part, "}") {
			names = append(names, strings.Trim(part, "{}"))
		}
	}
	return names
}

func hasParam(op map[string]any, name string) bool {
	ps, _ := op["parameters"].([]any)
	for _, p := range ps {
		if m, ok := p.(map[string]any); ok && m["name"] == name && m["in"] == "path" && m["required"] == true {
			return true
		}
	}
	return false
}

func mustRequest(t *testing.T, method, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}
