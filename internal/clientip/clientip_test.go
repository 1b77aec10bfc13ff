package clientip

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
)

func request(remote string, xff ...string) *http.Request {
	r := httptest.NewRequest("POST", "/api/v1/sessions", nil)
	r.RemoteAddr = remote
	for _, h := range xff {
		r.Header.Add("X-Forwarded-For", h)
	}
	return r
}

// TestAddr: what each kind of caller gets counted as.
func TestAddr(t *testing.T) {
	none, err := New(nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	proxied, err := New([]string{"10.0.0.5", "10.1.0.0/16", "fd00::/8"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name     string
		r        *Resolver
		remote   string
		xff      []string
		want     string
		wantZero bool
	}{
		{name: "a direct client", r: none, remote: "198.51.100.7:5000", want: "198.51.100.7"},
		{name: "a direct client naming another address", r: none, remote: "198.51.100.7:5000", xff: []string{"203.0.113.9"}, want: "198.51.100.7"},
		{name: "a client naming another address, through no proxy we trust", r: proxied, remote: "198.51.100.7:5000", xff: []string{"203.0.113.9"}, want: "198.51.100.7"},
		{name: "through a trusted proxy", r: proxied, remote: "10.0.0.5:443", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "through two trusted proxies", r: proxied, remote: "10.0.0.5:443", xff: []string{"203.0.113.9, 10.1.4.4"}, want: "203.0.113.9"},
		{name: "a client's own entries stay to the left", r: proxied, remote: "10.0.0.5:443", xff: []string{"1.2.3.4, 10.1.9.9", "203.0.113.9"}, want: "203.0.113.9"},
		{name: "header lines read as one list", r: proxied, remote: "10.0.0.5:443", xff: []string{"203.0.113.9", "10.1.4.4"}, want: "203.0.113.9"},
		{name: "an entry with a port", r: proxied, remote: "10.0.0.5:443", xff: []string{"203.0.113.9:61000"}, want: "203.0.113.9"},
		{name: "an IPv6 entry with a port", r: proxied, remote: "10.0.0.5:443", xff: []string{"[2001:db8::1]:443"}, want: "2001:db8::1"},
		{name: "a mapped IPv4 entry", r: proxied, remote: "10.0.0.5:443", xff: []string{"::ffff:203.0.113.9"}, want: "203.0.113.9"},
		{name: "a mapped IPv4 peer", r: proxied, remote: "[::ffff:10.0.0.5]:443", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "an IPv6 proxy", r: proxied, remote: "[fd00::1]:443", xff: []string{"203.0.113.9"}, want: "203.0.113.9"},
		{name: "a garbled entry stops at the proxy that passed it", r: proxied, remote: "10.0.0.5:443", xff: []string{"203.0.113.9, not an address"}, want: "10.0.0.5"},
		{name: "a garbled entry beyond the client is not read", r: proxied, remote: "10.0.0.5:443", xff: []string{"garbage, 203.0.113.9"}, want: "203.0.113.9"},
		{name: "a zone is no address", r: proxied, remote: "10.0.0.5:443", xff: []string{"fe80::1%eth0"}, want: "10.0.0.5"},
		{name: "an empty header", r: proxied, remote: "10.0.0.5:443", xff: []string{""}, want: "10.0.0.5"},
		{name: "a trusted proxy with no header", r: proxied, remote: "10.0.0.5:443", want: "10.0.0.5"},
		{name: "only proxies", r: proxied, remote: "10.0.0.5:443", xff: []string{"10.1.0.1, 10.1.0.2"}, want: "10.1.0.1"},
		{name: "no peer address", r: proxied, remote: "pipe", wantZero: true},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := c.r.Addr(request(c.remote, c.xff...))
			if c.wantZero {
				if got.IsValid() {
					t.Fatalf("got %v, want none", got)
				}
				return
			}
			if got.String() != c.want {
				t.Fatalf("got %v, want %s", got, c.want)
			}
		})
	}
}

func TestParsePrefixes(t *testing.T) {
	ps, err := ParsePrefixes([]string{"10.0.0.5", "10.1.2.3/16", "::ffff:192.0.2.0/120", "2001:db8::/32"})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10.0.0.5/32", "10.1.0.0/16", "192.0.2.0/24", "2001:db8::/32"}
	for i, p := range ps {
		if p.String() != want[i] {
			t.Errorf("%d: %v, want %s", i, p, want[i])
		}
	}
	for _, bad := range []string{"", "proxy.example", "10.0.0.0/33", "fe80::1%eth0", "10.0.0.1:80"} {
		if _, err := ParsePrefixes([]string{bad}); err == nil || !strings.Contains(err.Error(), "want an address or a network") {
			t.Errorf("%q: %v", bad, err)
		}
	}
	for _, everyone := range []string{"0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96", "::ffff:0:0/80"} {
		if _, err := ParsePrefixes([]string{"10.0.0.5", everyone}); err == nil || !strings.Contains(err.Error(), "holds every address") {
			t.Errorf("%q: %v, want it refused: every client would be a trusted proxy", everyone, err)
		}
	}
}

// TestWarnsOnceOfAnUntrustedProxy: a deployment behind a proxy it did not
// name hears about it, once.
func TestWarnsOnceOfAnUntrustedProxy(t *testing.T) {
	var logs bytes.Buffer
	r, err := New(nil, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	r.Addr(request("10.0.0.5:443"))
	if logs.Len() != 0 {
		t.Fatalf("warned without the header: %s", logs.String())
	}
	for range 3 {
		r.Addr(request("10.0.0.5:443", "203.0.113.9"))
	}
	if n := strings.Count(logs.String(), "trusted_proxies"); n != 1 {
		t.Fatalf("warned %d times: %s", n, logs.String())
	}
}

func TestContext(t *testing.T) {
	if From(context.Background()).IsValid() {
		t.Fatal("an address from nowhere")
	}
	a := netip.MustParseAddr("203.0.113.9")
	if got := From(With(context.Background(), a)); got != a {
		t.Fatalf("got %v", got)
	}
}

// FuzzAddr: whatever the header holds, the answer is the peer or an
// address written in the header, and never one a trusted proxy did not
// pass on: every entry right of it is a trusted proxy.
func FuzzAddr(f *testing.F) {
	for _, s := range []string{"203.0.113.9", "1.2.3.4, 10.1.9.9", "[2001:db8::1]:443", "garbage, 10.1.0.1", "", ",,,", "::ffff:10.1.0.1", "fe80::1%eth0"} {
		f.Add("10.0.0.5:443", s)
	}
	f.Add("198.51.100.7:5000", "203.0.113.9")
	r, err := New([]string{"10.0.0.5", "10.1.0.0/16"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, remote, xff string) {
		got := r.Addr(request(remote, xff))
		peer, err := netip.ParseAddrPort(remote)
		if err != nil {
			if got.IsValid() {
				t.Fatalf("an address %v for a peer that has none", got)
			}
			return
		}
		p := peer.Addr().Unmap().WithZone("")
		if got == p {
			return
		}
		if !r.isTrusted(p) {
			t.Fatalf("the header believed from an untrusted peer %v: %v", p, got)
		}
		// got must be an entry, with only trusted proxies right of it.
		entries := strings.Split(xff, ",")
		for i := len(entries) - 1; i >= 0; i-- {
			a, ok := parseHop(strings.TrimSpace(entries[i]))
			if !ok {
				t.Fatalf("%v came from beyond a garbled entry", got)
			}
			if a == got {
				return
			}
			if !r.isTrusted(a) {
				t.Fatalf("%v came from beyond an untrusted entry %v", got, a)
			}
		}
		t.Fatalf("%v is neither the peer nor in the header %q", got, xff)
	})
}
