package api_test

// What the edge spends on a hostile body: a small multiple of its size.

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// allocatedBy returns the bytes the process allocated while f ran (Go's
// cumulative allocation counter: deterministic for a given input, unlike
// time or the heap's size at a moment).
func allocatedBy(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// serveDirect runs one request through the API's mux in this goroutine, so
// that what is measured is the handler's work, not an HTTP client's.
func (e *env) serveDirect(token, method, path string, body []byte) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	e.mux.ServeHTTP(rec, req)
	return rec
}

// TestArrayOfNamesCostsLittle: any eligible member may POST a memo whose
// "codrafters" is a JSON array of short strings filling the API's body
// limit (about 2 MiB: ~500,000 one-letter names). Decoded, such an array
// costs some 50-60 times its bytes, so a handful of such requests at once
// would exhaust the server's memory; the edge refuses it, before decoding,
// at a small multiple of its size.
func TestArrayOfNamesCostsLittle(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	e.member("alice")
	head := `{"title":"T","body":"B","marking":"UNCLASSIFIED","codrafters":[`
	n := (apiMaxBody - len(head) - 16) / 4
	body := []byte(head + strings.Repeat(`"a",`, n) + `"a"]}`)
	if len(body) > apiMaxBody {
		t.Fatalf("body of %d bytes over the limit %d", len(body), apiMaxBody)
	}
	tok := e.token("alice")
	e.serveDirect(tok, "POST", "/api/v1/memos", []byte(`{"title":"T","body":"B","marking":"UNCLASSIFIED"}`)) // warm up
	var rec *httptest.ResponseRecorder
	alloc := allocatedBy(func() { rec = e.serveDirect(tok, "POST", "/api/v1/memos", body) })
	if rec.Code < 400 || rec.Code >= 500 {
		t.Errorf("a list of %d co-drafters: got %d, want a 4xx refusal", n+1, rec.Code)
	}
	t.Logf("a %d-byte body: %d bytes allocated (%.0fx), answer %d", len(body), alloc, float64(alloc)/float64(len(body)), rec.Code)
	if limit := 16 * uint64(len(body)); alloc > limit {
		t.Errorf("a %d-byte body made the server allocate %d bytes, %.0f times its size; want at most 16 times (%d)",
			len(body), alloc, float64(alloc)/float64(len(body)), limit)
	}
}

// TestSignInRefusesALargeBody: POST /api/v1/sessions takes three short
// strings; a body far larger than any valid one is refused as too large
// (413), from anyone, without being decoded.
func TestSignInRefusesALargeBody(t *testing.T) {
	e := newEnv(t, storetest.OpenSQLite(t))
	body := []byte(`{"username":"` + strings.Repeat("a", 1<<20) + `","password":"x"}`)
	var rec *httptest.ResponseRecorder
	alloc := allocatedBy(func() { rec = e.serveDirect("", "POST", "/api/v1/sessions", body) })
	t.Logf("anonymous %d-byte sign-in: %d bytes allocated (%.1fx), answer %d %s", len(body), alloc, float64(alloc)/float64(len(body)), rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	if rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 1 MiB sign-in body: got %d %s, want 413", rec.Code, bytes.TrimSpace(rec.Body.Bytes()))
	}
}
