package server

import (
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
)

func TestServeDebugOnlyOnLoopback(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:6060", "example.org:6060", "nonsense"} {
		if err := ServeDebug(t.Context(), addr, log); err == nil {
			t.Errorf("ServeDebug(%q) served; want a refusal", addr)
		}
	}
}

// serveDebug starts the profiler on a free loopback port until the test
// ends, and returns its address.
func serveDebug(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if err := ServeDebug(t.Context(), addr, slog.New(slog.NewTextHandler(io.Discard, nil))); err != nil {
		t.Fatal(err)
	}
	return addr
}

func TestServeDebugServesProfiles(t *testing.T) {
	addr := serveDebug(t)
	resp, err := http.Get("http://" + addr + "/debug/pprof/")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(b), "goroutine") {
		t.Fatalf("GET /debug/pprof/ = %s\n%s", resp.Status, b)
	}
}

// TestServeDebugRefusesAForeignHost: the profiler listens on loopback
// only, but a web page opened on the machine can rebind its own name to
// 127.0.0.1 (DNS rebinding) and read every profile as same-origin; a
// request whose Host is not a loopback name or address is refused.
func TestServeDebugRefusesAForeignHost(t *testing.T) {
	addr := serveDebug(t)
	for _, path := range []string{"/debug/pprof/cmdline", "/debug/pprof/goroutine?debug=2"} {
		req, err := http.NewRequest("GET", "http://"+addr+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		req.Host = "rebound.attacker.example:" + port // what the browser sends after the rebinding
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("GET %s with Host %s: 200 and %d bytes of profile; want a refusal (403 or 421)", path, req.Host, len(b))
		}
	}
}
