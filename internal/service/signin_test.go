package service_test

import (
	"net/netip"
	"strconv"
	"strings"
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

	_, _, device, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), "", netip.Addr{})
	if err != nil || device == "" {
		t.Fatalf("a first sign-in gives a device token: %q, %v", device, err)
	}
	_, _, bobs, err := svc.SignInFrom(d.Ctx, "bob", servicetest.Password("bob"), "", netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, _, err := svc.SignIn(d.Ctx, "alice", "an outsider's guess "+strconv.Itoa(i)); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	for name, other := range map[string]string{"no device token": "", "bob's device token": bobs, "a made-up one": device[:len(device)-2] + "AA"} {
		if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), other, netip.Addr{}); channel.ErrorCode(err) != channel.ERATELIMIT {
			t.Errorf("alice with %s, past the account's limit: %v", name, err)
		}
	}
	_, _, kept, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), device, netip.Addr{})
	if err != nil {
		t.Fatalf("alice on her own device, after an outsider's guesses: %v", err)
	}
	if kept != device {
		t.Errorf("the device token changed at a sign-in with it")
	}
	// The device's own count.
	for i := range 3 {
		if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", "a guess from her device "+strconv.Itoa(i), device, netip.Addr{}); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("device guess %d: %v", i, err)
		}
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), device, netip.Addr{}); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Errorf("a device past its own limit: %v", err)
	}
	// Another deployment's token for the same name does not pass.
	other := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	other.Member("alice")
	_, _, theirs, err := other.Svc.SignInFrom(other.Ctx, "alice", servicetest.Password("alice"), "", netip.Addr{})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), theirs, netip.Addr{}); channel.ErrorCode(err) != channel.ERATELIMIT {
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
	tok, _, device, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), "", netip.Addr{})
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
	if _, _, _, err := svc.SignInFrom(d.Ctx, "alice", "alice's new password, after a loss", device, netip.Addr{}); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Errorf("a device token from before the password changed still has its own count: %v", err)
	}
}

// TestSignInsLimitedPerAddress: someone trying a password or two on many
// accounts from one address (password spraying), whom no account's limit
// stops, is held back at the address's limit, whichever account they try
// next and with the right password too. Another address is not; nor is a
// device that signed in to its account before, from the same address, so
// a guesser sharing an office's network address does not lock its people
// out. Right passwords are not counted; an IPv6 /64 is one address.
func TestSignInsLimitedPerAddress(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	for _, u := range []string{"alice", "bob", "carol"} {
		d.Member(u)
	}
	cfg := d.Svc.Config()
	cfg.SignInAddressLimit = 3
	svc := d.WithConfig(cfg)
	spray, office := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("198.51.100.7")
	signIn := func(user, password, device string, from netip.Addr) (string, error) {
		_, _, keep, err := svc.SignInFrom(d.Ctx, user, password, device, from)
		return keep, err
	}

	// alice signs in from that address, right, twice: nothing counted.
	device, err := signIn("alice", servicetest.Password("alice"), "", spray)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signIn("alice", servicetest.Password("alice"), "", spray); err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "nobody"} {
		if _, err := signIn(u, "Spring2026!", "", spray); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("%s, one guess: %v", u, err)
		}
	}
	_, err = signIn("carol", servicetest.Password("carol"), "", spray)
	if channel.ErrorCode(err) != channel.ERATELIMIT || !strings.Contains(err.Error(), "from your network") {
		t.Fatalf("carol from the address at its limit, her right password: %v", err)
	}
	if _, err := signIn("carol", servicetest.Password("carol"), "", office); err != nil {
		t.Fatalf("carol from another address: %v", err)
	}
	if _, err := signIn("alice", servicetest.Password("alice"), device, spray); err != nil {
		t.Fatalf("alice, on the device she used before, from the address at its limit: %v", err)
	}
	if _, err := signIn("bob", servicetest.Password("bob"), device, spray); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Fatalf("bob with alice's device token is a new device: %v", err)
	}

	// One IPv6 /64 is one address.
	for i := range 3 {
		a := netip.MustParseAddr("2001:db8:0:1::" + strconv.Itoa(i+1))
		if _, err := signIn("bob", "guess "+strconv.Itoa(i), "", a); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("guess %d: %v", i, err)
		}
	}
	if _, err := signIn("bob", servicetest.Password("bob"), "", netip.MustParseAddr("2001:db8:0:1::ff")); channel.ErrorCode(err) != channel.ERATELIMIT {
		t.Fatalf("another address of the same /64: %v", err)
	}
	if _, err := signIn("bob", servicetest.Password("bob"), "", netip.MustParseAddr("2001:db8:0:2::1")); err != nil {
		t.Fatalf("another /64: %v", err)
	}

	// An attempt the account's limit refuses checks no password, and an
	// address does not count it.
	cfg.SignInLimit, cfg.SignInAddressLimit = 1, 2
	tight := d.WithConfig(cfg)
	from := netip.MustParseAddr("192.0.2.44")
	if _, _, _, err := tight.SignInFrom(d.Ctx, "alice", "a guess", "", from); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, _, err := tight.SignInFrom(d.Ctx, "alice", "a guess", "", from); channel.ErrorCode(err) != channel.ERATELIMIT || strings.Contains(err.Error(), "network") {
			t.Fatalf("alice at her account's limit: %v", err)
		}
	}
	if _, _, _, err := tight.SignInFrom(d.Ctx, "bob", servicetest.Password("bob"), "", from); err != nil {
		t.Fatalf("bob from the address that had one wrong password: %v", err)
	}

	// -1: no limit per address.
	cfg.SignInLimit, cfg.SignInAddressLimit = 1000, -1
	open := d.WithConfig(cfg)
	for i := range 5 {
		if _, _, _, err := open.SignInFrom(d.Ctx, "nobody", "guess "+strconv.Itoa(i), "", spray); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("guess %d with no limit per address: %v", i, err)
		}
	}
}

// TestRightSignInsAtOnceFromOneAddress: many people behind one address
// signing in at the same moment, with their right passwords, past the
// address's limit. Those beyond it are asked to retry in seconds, not held
// back for the hour, and nothing is left counted: the address is not at
// its limit afterwards.
func TestRightSignInsAtOnceFromOneAddress(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	cfg := d.Svc.Config()
	cfg.SignInAddressLimit = 3
	// One password check at a time, at the product's cost, so that they
	// queue.
	svc := service.New(d.Store, cfg, vault.NewPasswords(vault.DefaultPasswordParams(), 1), nil)
	svc.Now = d.Clock.Now
	office := netip.MustParseAddr("198.51.100.7")
	var wg sync.WaitGroup
	var mu sync.Mutex
	answers := map[string]int{}
	for range 8 {
		wg.Go(func() {
			_, _, _, err := svc.SignInFrom(d.Ctx, "alice", servicetest.Password("alice"), "", office)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				answers["signed in"]++
			case channel.ErrorCode(err) == channel.ERATELIMIT && strings.Contains(err.Error(), "at once") && channel.RetryAfterSeconds(err) <= 5:
				answers["retry in seconds"]++
			default:
				answers[err.Error()]++
			}
		})
	}
	wg.Wait()
	t.Logf("answers: %v", answers)
	if answers["signed in"] < 3 || answers["retry in seconds"] == 0 || answers["signed in"]+answers["retry in seconds"] != 8 {
		t.Fatalf("answers: %v", answers)
	}
	for i := range 3 {
		if _, _, _, err := svc.SignInFrom(d.Ctx, "nobody", "a guess", "", office); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("wrong password %d after the rush: %v (the rush left counts behind)", i+1, err)
		}
	}
}
