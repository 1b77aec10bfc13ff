package web

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/clientip"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// siteBehindOneAddress serves svc's pages to browsers that all come from
// one address, as an office's do behind its network's.
func siteBehindOneAddress(t testing.TB, d *servicetest.Deployment, svc *service.Service) *site {
	mux := http.NewServeMux()
	Register(mux, svc, Options{Log: slog.New(slog.DiscardHandler)})
	office := netip.MustParseAddr("198.51.100.7")
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mux.ServeHTTP(w, r.WithContext(clientip.With(r.Context(), office)))
	}))
	t.Cleanup(srv.Close)
	return &site{Deployment: d, srv: srv}
}

// TestPasswordChangeKeepsTheBrowserKnown: a guesser on the office's network
// holds its address at the limit of failed sign-ins. alice changes her
// password in the browser she always uses, which ends her sessions and
// voids the browser's device token; she stays signed in, and signs in
// again later in that browser, because the change gave it a new token. A
// browser she never used is held back by the address, as the guesser is.
func TestPasswordChangeKeepsTheBrowserKnown(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	d.Member("bob")
	cfg := d.Svc.Config()
	cfg.SignInAddressLimit = 2
	s := siteBehindOneAddress(t, d, d.WithConfig(cfg))

	alice := s.signedIn(t, "alice")
	guesser := s.browser(t)
	for i, want := range []int{http.StatusUnauthorized, http.StatusUnauthorized, http.StatusTooManyRequests} {
		if res := guesser.post("/sign-in", url.Values{"username": {"bob"}, "password": {"Spring2026!"}}); res.StatusCode != want {
			t.Fatalf("guess %d: status %d, want %d", i+1, res.StatusCode, want)
		}
	}

	const next = "alice's own new password"
	if res := alice.post("/account/password", url.Values{"current_password": {servicetest.Password("alice")}, "new_password": {next}, "confirm_password": {next}}); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/account" {
		t.Fatalf("changing her password: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := alice.get("/account"); res.StatusCode != http.StatusOK {
		t.Fatalf("after the change, signed in again: %d", res.StatusCode)
	}
	alice.post("/sign-out", nil)
	if res := alice.post("/sign-in", url.Values{"username": {"alice"}, "password": {next}}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("alice, in her browser, later: %d: %s", res.StatusCode, res.body)
	}
	res := s.browser(t).post("/sign-in", url.Values{"username": {"alice"}, "password": {next}})
	if res.StatusCode != http.StatusTooManyRequests || !strings.Contains(res.body, "from your network") || !strings.Contains(res.body, "try again in 60 minutes") {
		t.Fatalf("alice in a browser she never used, the address at its limit: %d %s", res.StatusCode, res.body)
	}
	if res.Header.Get("Retry-After") == "" {
		t.Error("the refusal says no Retry-After")
	}
}
