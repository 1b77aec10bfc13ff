package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"sync/atomic"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// sessionlessStore is a store whose sessions cannot be written while
// failing is set: a database that hiccups (a busy timeout, a fail-over)
// for one write.
type sessionlessStore struct {
	store.Store
	failing atomic.Bool
}

func (s *sessionlessStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx, write)
	if err != nil {
		return nil, err
	}
	return sessionlessTx{Tx: tx, s: s}, nil
}

type sessionlessTx struct {
	store.Tx
	s *sessionlessStore
}

func (tx sessionlessTx) CreateSession(ctx context.Context, sess *store.Session) error {
	if tx.s.failing.Load() {
		return errors.New("database busy")
	}
	return tx.Tx.CreateSession(ctx, sess)
}

// TestReview60PasswordChangeKeepsTheDeviceWhenSignInAgainFails: a guesser
// on the office's network holds its address at the limit. alice changes
// her password in the browser she always uses; the change commits, which
// voids the browser's device token, and gives it a new one. The sign-in
// that follows fails (the database hiccups once), and the page sends her
// to the sign-in page. Her browser must hold the token the change gave: it
// is the device that just proved her password. It kept the void one, so
// her next sign-in counted as a new device's and the address held her back
// for the guesser's hour.
func TestReview60PasswordChangeKeepsTheDeviceWhenSignInAgainFails(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	d.Member("bob")
	cfg := d.Svc.Config()
	cfg.SignInAddressLimit = 2
	st := &sessionlessStore{Store: d.Store}
	svc := service.New(st, cfg, vault.NewPasswords(vault.TestPasswordParams(), 8), nil)
	svc.Now = d.Clock.Now
	s := siteBehindOneAddress(t, d, svc)

	alice := s.signedIn(t, "alice")
	guesser := s.browser(t)
	for range 2 {
		guesser.post("/sign-in", url.Values{"username": {"bob"}, "password": {"Spring2026!"}})
	}

	const next = "alice's own new password"
	st.failing.Store(true)
	res := alice.post("/account/password", url.Values{"current_password": {servicetest.Password("alice")}, "new_password": {next}, "confirm_password": {next}})
	st.failing.Store(false)
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/sign-in" {
		t.Fatalf("the change, then a failed sign-in: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if res := alice.post("/sign-in", url.Values{"username": {"alice"}, "password": {next}}); res.StatusCode != http.StatusSeeOther {
		t.Errorf("alice, in the browser that changed her password, signing in again: %d", res.StatusCode)
	}
}
