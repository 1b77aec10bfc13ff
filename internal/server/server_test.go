package server

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
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
	cfg := &config.Config{}
	cfg.Server.MetricsToken = testMetricsToken
	ts := httptest.NewServer(Handler(h.Svc, cfg, slog.New(slog.DiscardHandler), nil))
	t.Cleanup(ts.Close)
	get := func(path string) (int, string) {
		t.Helper()
		req, err := http.NewRequest("GET", ts.URL+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+testMetricsToken)
		resp, err := ts.Client().Do(req)
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

const testMetricsToken = "metrics-token-of-the-test"

// TestMetricsNeedTheirToken: the metrics count requests by route and time,
// which would tell an insider when memos are submitted; only the operators'
// scraper, with the configured bearer token, reads them, and a deployment
// without a token serves them to nobody.
func TestMetricsNeedTheirToken(t *testing.T) {
	h := servicetest.New(t, storetest.OpenSQLite(t))
	for _, c := range []struct {
		name, configured, sent string
		want                   int
	}{
		{"no token configured", "", "", http.StatusForbidden},
		{"no token configured, one sent", "", "Bearer anything-at-all-here", http.StatusForbidden},
		{"none sent", testMetricsToken, "", http.StatusUnauthorized},
		{"a wrong one", testMetricsToken, "Bearer " + testMetricsToken + "x", http.StatusUnauthorized},
		{"its prefix", testMetricsToken, "Bearer " + testMetricsToken[:8], http.StatusUnauthorized},
		{"not as a bearer token", testMetricsToken, testMetricsToken, http.StatusUnauthorized},
		{"the right one", testMetricsToken, "Bearer " + testMetricsToken, http.StatusOK},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := &config.Config{}
			cfg.Server.MetricsToken = c.configured
			ts := httptest.NewServer(Handler(h.Svc, cfg, slog.New(slog.DiscardHandler), nil))
			defer ts.Close()
			req, err := http.NewRequest("GET", ts.URL+"/metrics", nil)
			if err != nil {
				t.Fatal(err)
			}
			if c.sent != "" {
				req.Header.Set("Authorization", c.sent)
			}
			resp, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != c.want {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, c.want, b)
			}
			if served := strings.Contains(string(b), "go_goroutines"); served != (c.want == http.StatusOK) {
				t.Errorf("metrics served: %v, with status %d", served, resp.StatusCode)
			}
		})
	}
}

// TestSignInsCountedByForwardedAddress: failed sign-ins are counted per
// source address. With no trusted proxy, a client cannot dodge its count by
// writing a new X-Forwarded-For each time; behind a trusted proxy each
// client is counted by the address the proxy recorded, and an address the
// client wrote to the left of it changes nothing.
func TestSignInsCountedByForwardedAddress(t *testing.T) {
	h := servicetest.New(t, storetest.OpenSQLite(t))
	h.Create("alice", true)
	scfg := h.Svc.Config()
	scfg.SignInAddressLimit = 2
	signIn := func(ts *httptest.Server, forwarded string) int {
		t.Helper()
		req, err := http.NewRequest("POST", ts.URL+"/api/v1/sessions", strings.NewReader(`{"username":"alice","password":"not her password at all"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if forwarded != "" {
			req.Header.Set("X-Forwarded-For", forwarded)
		}
		resp, err := ts.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			// Within the hour the oldest counted failure leaves.
			if n, err := strconv.Atoi(resp.Header.Get("Retry-After")); err != nil || n < 3590 || n > 3600 {
				t.Errorf("a refusal's Retry-After: %q", resp.Header.Get("Retry-After"))
			}
		}
		return resp.StatusCode
	}
	serve := func(trusted ...string) *httptest.Server {
		cfg := &config.Config{}
		cfg.Server.TrustedProxies = trusted
		ts := httptest.NewServer(Handler(h.WithConfig(scfg), cfg, slog.New(slog.DiscardHandler), nil))
		t.Cleanup(ts.Close)
		return ts
	}

	direct := serve()
	for i, want := range []int{401, 401, 429, 429} {
		if got := signIn(direct, "203.0.113."+string(rune('1'+i))); got != want {
			t.Fatalf("direct, attempt %d with a made-up forwarded address: %d, want %d", i+1, got, want)
		}
	}

	proxied := serve("127.0.0.1")
	for i, c := range []struct {
		forwarded string
		want      int
	}{
		{"203.0.113.1", 401},
		{"203.0.113.1", 401},
		{"203.0.113.1", 429},
		{"198.51.100.9, 203.0.113.1", 429}, // the client's own entry, left of the proxy's
		{"203.0.113.2", 401},
	} {
		if got := signIn(proxied, c.forwarded); got != c.want {
			t.Fatalf("proxied, attempt %d forwarded for %q: %d, want %d", i+1, c.forwarded, got, c.want)
		}
	}
}
