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

// TestSignInLimit: after the limit of failed sign-ins a username is
// refused, the right password too; guesses sent all at once are counted
// one by one, so no more than the limit are ever checked; a success clears
// the count.
func TestSignInLimit(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	d.Member("alice")
	d.Member("bob")
	cfg := d.Svc.Config()
	cfg.SignInLimit = 3
	svc := d.WithConfig(cfg)

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
