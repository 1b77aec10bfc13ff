package config

import (
	"strings"
	"testing"
)

// TestSignInLimitsPerAddress: the trusted proxies and the limit per address
// are checked, and `config check` says whose address counts.
func TestSignInLimitsPerAddress(t *testing.T) {
	c, err := loadWith(t, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Summary(), "\n"); !strings.Contains(got, "failed sign-ins an hour: 10 per account, 100 per address from new devices (each connection's peer; no trusted proxies)") {
		t.Errorf("the defaults: %s", got)
	}
	c, err = loadWith(t, "[server]\ntrusted_proxies = [\"10.0.0.5\", \"fd00::/8\"]\n[security]\nfailed_sign_ins_per_hour_per_address = -1\n")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(c.Summary(), "\n"); !strings.Contains(got, "10 per account, no limit per address (as forwarded by the trusted proxies 10.0.0.5, fd00::/8)") {
		t.Errorf("set: %s", got)
	}
	for toml, want := range map[string]string{
		"[server]\ntrusted_proxies = [\"proxy.example.gov\"]\n":   `server.trusted_proxies: trusted proxy "proxy.example.gov": want an address or a network`,
		"[server]\ntrusted_proxies = [\"10.0.0.0/40\"]\n":         `trusted proxy "10.0.0.0/40"`,
		"[security]\nfailed_sign_ins_per_hour_per_address = -2\n": "failed_sign_ins_per_hour_per_address: want a positive number, or -1",
	} {
		if _, err := loadWith(t, toml); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", toml, err, want)
		}
	}
}
