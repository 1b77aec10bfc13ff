package service_test

import (
	"context"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestReview59AbandonedSignInIsNotAFailure: while the password checks are
// busy (a flood of guesses, which the threat model expects), a person's
// sign-in waits its turn; if they give up (close the tab, press the button
// again, the proxy times out) before their password is ever checked, the
// attempt must not count as a failed sign-in against their address: an
// address "counts the passwords checked and found wrong only"
// (SignInFrom). Here three abandoned sign-ins put the office's address
// past its limit of two, and alice, with her right password, is then
// refused "from your network" (and the node logs the office's address as
// one to block).
func TestReview59AbandonedSignInIsNotAFailure(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	cfg := d.Svc.Config()
	cfg.SignInAddressLimit = 2
	// One password check at a time, and a slow one for a name nobody has,
	// to keep the only slot busy while alice waits.
	svc := service.New(d.Store, cfg, vault.NewPasswords(vault.PasswordParams{Time: 48, MemoryKiB: 32 * 1024, Threads: 1}, 1), nil)
	svc.Now = d.Clock.Now
	office := netip.MustParseAddr("198.51.100.7")

	var wg sync.WaitGroup
	wg.Go(func() { svc.SignInFrom(d.Ctx, "nobody", "a guess", "", netip.MustParseAddr("203.0.113.9")) })
	time.Sleep(100 * time.Millisecond) // the guess holds the slot
	// alice gives up, then twice more after mistyping her name (nobody's).
	for _, user := range []string{"alice", "alyce", "alyce"} {
		ctx, cancel := context.WithTimeout(d.Ctx, 30*time.Millisecond)
		_, _, _, err := svc.SignInFrom(ctx, user, servicetest.Password("alice"), "", office)
		if ctx.Err() == nil {
			t.Fatalf("the slot was free (%v): make the guess slower", err)
		}
		cancel()
	}
	wg.Wait()
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), "", office); err != nil {
		t.Fatalf("alice's right password, her earlier attempts abandoned before any check: %v (%s)", err, channel.ErrorCode(err))
	}
}

// TestReview59PasswordChangeOnAKnownDevice: a guesser on the office's
// network holds its address at the limit, which the threat model accepts
// for new devices only ("not from devices that signed in before"). Alice,
// on the device she has always used, changes her password; the change ends
// her sessions and moves the epoch her device token is bound to, so the
// sign-in that follows (the web's signInAgain, or an API client's) counted
// as a new device's and was refused: she was signed out and could not sign
// in again from the office, on any device, until the guesser's hour ended.
// The change now gives the device that made it a token of the new epoch;
// the old token stays void.
func TestReview59PasswordChangeOnAKnownDevice(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	cfg := d.Svc.Config()
	cfg.SignInAddressLimit = 3
	svc := d.WithConfig(cfg)
	office := netip.MustParseAddr("198.51.100.7")

	tok, _, device, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), "", office)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"bob", "carol", "dave"} { // the guesser, on the office's network
		if _, _, _, err := svc.SignInFrom(d.Ctx, u, "Spring2026!", "", office); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatal(err)
		}
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), device, office); err != nil {
		t.Fatalf("alice on her device, the address at its limit: %v", err)
	}
	const next = "alice's own new password"
	a, err := svc.Authenticate(d.Ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	renewed, err := svc.ChangePasswordFrom(d.Ctx, a, servicetest.Password("alice"), next)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", next, device, office); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Errorf("the device token from before the change still counts as a known device: %v", err)
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", next, renewed, office); err != nil {
		t.Errorf("alice, on the device that just changed her password, with the token the change gave it: %v", err)
	}
}
