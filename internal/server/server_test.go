package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/config"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestHandlerCountsRequestsByRoute checks what an operator's dashboard
// reads from /metrics: requests counted by the route that served them, and
// every unknown path under one label, so that probing for URLs cannot grow
// the metrics without bound.
func TestHandlerCountsRequestsByRoute(t *testing.T) {
	h := servicetest.New(t, storetest.OpenSQLite(t))
	ts := httptest.NewServer(Handler(h.Svc, &config.Config{}, slog.New(slog.DiscardHandler), nil))
	t.Cleanup(ts.Close)
	get := func(path string) (int, string) {
		t.Helper()
		resp, err := ts.Client().Get(ts.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, string(b)
	}
	for _, p := range []string{"/healthz", "/healthz", "/no/such/page-1", "/no/such/page-2"} {
		get(p)
	}
	if code, _ := get("/api/v1/memos/not-a-memo"); code != http.StatusUnauthorized {
		t.Fatalf("GET a memo without a session: %d, want 401", code)
	}
	_, metrics := get("/metrics")
	for _, want := range []string{
		`dissent_http_requests_total{code="200",route="GET /healthz"} 2`,
		`dissent_http_requests_total{code="404",route="unmatched"} 2`,
		`dissent_http_requests_total{code="401",route="GET /api/v1/memos/{id}"} 1`,
	} {
		if !strings.Contains(metrics, want+"\n") {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if strings.Contains(metrics, "page-1") {
		t.Error("/metrics names a path nobody routed")
	}
}
