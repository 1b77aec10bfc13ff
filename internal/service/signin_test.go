package service_test

import (
	"strconv"
	"sync"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// limitedDeployment is a deployment with members alice and bob, and a node
// of it that allows 3 failed sign-ins an hour.
func limitedDeployment(t *testing.T) (*servicetest.Deployment, *service.Service) {
	t.Helper()
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	d.Member("bob")
	cfg := d.Svc.Config()
	cfg.SignInLimit = 3
	return d, d.WithConfig(cfg)
}

// TestSignInLimit: after the limit of failed sign-ins a username is
// refused, the right password too; guesses sent all at once are counted
// one by one, so no more than the limit are ever checked; a success clears
// the count.
func TestSignInLimit(t *testing.T) {
	d, svc := limitedDeployment(t)
	cfg := svc.Config()

	if _, _, err := svc.SignIn(d.Ctx, "alice", "a wrong guess"); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
		t.Fatalf("a wrong password: %v", err)
	}
	if _, _, err := svc.SignIn(d.Ctx, "alice", servicetest.Password("alice")); err != nil {
		t.Fatalf("the right one: %v", err)
	}
	for i := range 3 { // the success above cleared the count
		if _, _, err := svc.SignIn(d.Ctx, "alice", "guess "+strconv.Itoa(i)); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, _, err := svc.SignIn(d.Ctx, "alice", servicetest.Password("alice")); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Fatalf("the right password past the limit: %v", err)
	}

	// The product's argon2id parameters, so that a check takes long enough
	// for the guesses to overlap; against a name with no account, whose
	// check costs the same.
	slow := service.New(d.Store, cfg, vault.NewPasswords(vault.DefaultPasswordParams(), 8), nil)
	var wg sync.WaitGroup
	var mu sync.Mutex
	checked := 0
	for i := range 40 {
		wg.Go(func() {
			_, _, err := slow.SignIn(d.Ctx, "nobody", "guess "+strconv.Itoa(i))
			if channel.ErrorCode(err) == channel.EUNAUTHORIZED {
				mu.Lock()
				checked++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if checked > 3 {
		t.Errorf("%d of 40 simultaneous guesses were checked, more than the limit of 3", checked)
	}
}

// TestDeviceIsNotLockedOut: someone who knows an account's username posts
// wrong passwords until the account's limit is reached. The person, on a
// device that signed in to the account before and kept its device token,
// still signs in; a device without one, or with a token for another
// account or made up, shares the account's count and is refused. A device
// that guesses is limited on its own.
func TestDeviceIsNotLockedOut(t *testing.T) {
	d, svc := limitedDeployment(t)

	_, _, device, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), "")
	if err != nil || device == "" {
		t.Fatalf("a first sign-in gives a device token: %q, %v", device, err)
	}
	_, _, bobs, err := svc.SignInFrom(d.Ctx, "bob", servicetest.Password("bob"), "")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := svc.SignIn(d.Ctx, "alice", "an outsider's guess "+strconv.Itoa(i)); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	for name, other := range map[string]string{"no device token": "", "bob's device token": bobs, "a made-up one": device[:len(device)-2] + "AA"} {
		if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), other); channel.ErrorCode(err) != channel.ERATELIMIT {
			t.Errorf("alice with %s, past the account's limit: %v", name, err)
		}
	}
	_, _, kept, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), device)
	if err != nil {
		t.Fatalf("alice on her own device, after an outsider's guesses: %v", err)
	}
	if kept != device {
		t.Errorf("the device token changed at a sign-in with it")
	}
	// The device's own count.
	for i := range 3 {
		if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", "a guess from her device "+strconv.Itoa(i), device); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("device guess %d: %v", i, err)
		}
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), device); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Errorf("a device past its own limit: %v", err)
	}
	// Another deployment's token for the same name does not pass.
	other := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	other.Member("alice")
	_, _, theirs, err := other.Svc.SignInFrom(other.Ctx, "alice", servicetest.Password("alice"), "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), theirs); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Errorf("another deployment's device token: %v", err)
	}
}

// TestDeviceTokenEndsWithThePassword: a device token stops counting on its
// own once the account's password changes, as every session ends then: a
// device that signed in before the change (taken, or left behind) shares
// the account's count again, until a sign-in with the new password gives
// it a new token.
func TestDeviceTokenEndsWithThePassword(t *testing.T) {
	d, svc := limitedDeployment(t)
	tok, _, device, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), "")
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.ChangePassword(d.Ctx, d.Authenticate(tok), servicetest.Password("alice"), "alice's new password, after a loss"); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := svc.SignIn(d.Ctx, "alice", "an outsider's guess "+strconv.Itoa(i)); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", "alice's new password, after a loss", device); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Errorf("a device token from before the password changed still has its own count: %v", err)
	}
}
