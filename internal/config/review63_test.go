package config

import (
	"testing"
)

// TestReview63TrustedProxiesThatTrustEveryone: OPERATIONS.md ("Behind a
// reverse proxy") says the node believes X-Forwarded-For only as far as the
// named proxies appended it, "provided no client is among them (name the
// proxies, not a network the clients are on too)". A network holding every
// address (0.0.0.0/0, ::/0, or ::ffff:0:0/96, which is 0.0.0.0/0 once
// unmapped) makes every client a trusted proxy: the walk then reads the
// address the client wrote itself, so a guesser picks a fresh "address" per
// request and the per-address limit on failed sign-ins is gone (and they can
// spend any other address's allowance to hold its office back). Check
// passes it, and `config check` calls the configuration valid.
func TestReview63TrustedProxiesThatTrustEveryone(t *testing.T) {
	for _, p := range []string{"0.0.0.0/0", "::/0", "::ffff:0.0.0.0/96"} {
		if _, err := loadWith(t, "[server]\ntrusted_proxies = [\""+p+"\"]\n"); err == nil {
			t.Errorf("Check passes server.trusted_proxies = [%q]: every client is then a trusted proxy and its own X-Forwarded-For names it, so failed sign-ins are no longer limited per address", p)
		}
	}
}
