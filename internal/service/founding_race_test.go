package service_test

import (
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestCeremonyRefusesKeysMadeInTheFuture (review: helper-26): the window was
// `now - entry time > ceremonyWindow`, so an anchoring entry dated after
// the ceremony passed whatever its age. An administrator (who holds the
// servers) sets a node's clock a day ahead, signs in first to the office's
// new account with the password they gave it, chooses one of their own
// (which makes the keys), puts the clock back and hands the person the
// second password. At the ceremony the next day the keys look "made in
// the future", and the custodians found the office with them.
func TestCeremonyRefusesKeysMadeInTheFuture(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		h.Clock.Advance(48 * time.Hour) // the node's clock, a day ahead of the true time
		officeMember(t, h, "ruth")      // the administrator's first sign-in
		fp := fingerprint(t, h.Svc, h.SignIn("ruth"))
		h.Clock.Set(servicetest.Start.Add(24 * time.Hour)) // the ceremony, a day later, clock put right
		made, err := h.Svc.FoundOffice(h.Ctx, h.Shares, "ruth", fp)
		if channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("founding with keys whose entry is dated %v, after the ceremony (%v): %v; want refused", made, h.Clock.Now(), err)
		}
	})
}

// TestUnfoundedOfficeIsNoTamperingDuringTheCeremony (review: helper-26): Me (and
// unwrapOffice, distribute) read office.public, find none, then ask the
// ledger whether an office was ever founded (officeNeverFounded). If the
// ceremony commits in between — on another node, or the CLI beside a
// running server — the ledger read afterwards (PostgreSQL reads each
// statement at its own snapshot; on SQLite the node's follower learns the
// office.key entry in another request) shows an office.key entry, and an
// office member merely opening their account page is answered with
// ErrNotAnchored, the node logged tampering and stopped reporting ready
// until restarted. officeNeverFounded now counts only entries in the
// transaction's view of the ledger, and reads the settings again.
func TestUnfoundedOfficeIsNoTamperingDuringTheCeremony(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		officeMember(t, h, "ruth")
		officeMember(t, h, "omar")
		ruth := fingerprint(t, h.Svc, h.SignIn("ruth"))
		hooked := &hookStore{Store: st}
		node := servicetest.Reopen(t, h, hooked) // a second node (or the server beside the CLI)
		omar := h.SignInOn(node.Svc, "omar", servicetest.Password("omar"))
		var armed atomic.Bool
		armed.Store(true)
		hooked.onSetting = func(name string, err error) {
			if name != "office.public" || !errors.Is(err, store.ErrNotFound) || !armed.CompareAndSwap(true, false) {
				return
			}
			// The ceremony commits on the other node just now...
			if _, err := h.Svc.FoundOffice(h.Ctx, h.Shares, "ruth", ruth); err != nil {
				t.Errorf("the ceremony: %v", err)
			}
			// ...and, on SQLite, whose read transactions keep their
			// snapshot, this node's follower catches up in another
			// request. PostgreSQL needs nothing more: the ledger reads
			// that follow in this request see the founding.
			if st.Dialect() != "sqlite" {
				return
			}
			if err := node.Svc.FollowAnchors(h.Ctx); err != nil {
				t.Errorf("follow: %v", err)
			}
		}
		me, err := node.Svc.Me(h.Ctx, omar)
		if err != nil {
			t.Errorf("an office member's account page while the custodians found the office: %v; want pending or unfounded", err)
		} else if me.OfficeAccess != "pending" && me.OfficeAccess != "unfounded" {
			t.Errorf("office access %q", me.OfficeAccess)
		}
		if err := node.Svc.Ready(h.Ctx); err != nil {
			t.Errorf("the node no longer reports ready after an account page read during the ceremony: %v", err)
		}
	})
}
