package service_test

import (
	"slices"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestAccountsAndFirstKeysAreToldToTheirPerson: an administrator who makes
// an account gives its first password, and could sign in with it first,
// choose a second password and hand that over: the person would then work
// under keys the administrator holds, and never be asked to choose one.
// The deployment tells the person itself, in the app and by e-mail to
// their address: that the account was made and what its first sign-in
// must look like, and when its keys were made. The person who gets the
// second without having chosen a password knows.
func TestAccountsAndFirstKeysAreToldToTheirPerson(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		if _, err := d.Svc.CreateUser(d.Ctx, d.Admin, service.NewUser{Username: "dana", DisplayName: "Dana", Email: "dana@example.test",
			Password: servicetest.InitialPassword("dana"), Roles: []string{"member"}, Eligible: true}); err != nil {
			t.Fatal(err)
		}
		outbox := func() []string {
			t.Helper()
			mails, err := d.Svc.ClaimMail(d.Ctx, time.Minute, 100)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, m := range mails {
				got = append(got, m.To+" "+m.Kind+" "+m.MemoID)
			}
			return got
		}
		if got, want := outbox(), []string{"dana@example.test account.created "}; !slices.Equal(got, want) {
			t.Errorf("the outbox after the account was made: %q, want %q", got, want)
		}
		// Whoever signs in first with the password the administrator gave
		// chooses the password that makes the keys: the person is told.
		first := d.SignInOn(d.Svc, "dana", servicetest.InitialPassword("dana"))
		if err := d.Svc.ChangePassword(d.Ctx, first, servicetest.InitialPassword("dana"), "a second password, handed over"); err != nil {
			t.Fatal(err)
		}
		if got, want := outbox(), []string{"dana@example.test account.keys_made "}; !slices.Equal(got, want) {
			t.Errorf("the outbox after the first keys were made: %q, want %q", got, want)
		}
		dana := d.SignInOn(d.Svc, "dana", "a second password, handed over")
		if got, want := kindsOf(bell(t, d, dana).Items), []string{service.KindKeysMade + ":", service.KindAccountCreated + ":"}; !slices.Equal(got, want) {
			t.Errorf("dana's bell: %v, want %v", got, want)
		}
		// Later password changes make no keys, and tell nothing.
		if err := d.Svc.ChangePassword(d.Ctx, dana, "a second password, handed over", "dana's own password now"); err != nil {
			t.Fatal(err)
		}
		if got := outbox(); len(got) != 0 {
			t.Errorf("a password change that made no keys mailed %q", got)
		}
	})
}
