// Package servicetest builds a real service over a real store for tests:
// an initialised deployment with an administrator, a controllable clock and
// helpers to create and sign in people. Only the clock is fake.
package servicetest

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/vault"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// Clock is a controllable clock, safe for concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// Harness is a deployment under test.
type Harness struct {
	T          testing.TB
	Ctx        context.Context
	Svc        *service.Service
	Store      store.Store
	Clock      *Clock
	Admin      *service.Actor
	Shares     []vault.Share
	LedgerVKey string
	Calendar   *workdays.Calendar
}

// Office is New York: the State profile's office.
var Office = mustLoad("America/New_York")

func mustLoad(name string) *time.Location {
	l, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return l
}

// Start is the clock's first reading: Monday 2 March 2026, 10:00 in New York.
var Start = time.Date(2026, 3, 2, 10, 0, 0, 0, Office)

// Options change the deployment.
type Options struct {
	Profile string // default state-2fam070
	MaxBody int
}

// New initialises a deployment over st with an administrator "admin".
func New(t testing.TB, st store.Store, opts ...Options) *Harness {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.Profile == "" {
		o.Profile = channel.DefaultProfile
	}
	profile := channel.Profiles[o.Profile]
	cal, err := workdays.New(workdays.Config{Location: Office, Holidays: profile.Holidays})
	if err != nil {
		t.Fatal(err)
	}
	skey, vkey, err := ledger.GenerateKey("dissent.test")
	if err != nil {
		t.Fatal(err)
	}
	clock := &Clock{t: Start}
	svc := service.New(st, service.Config{
		Profile: profile, Calendar: cal, MaxBody: o.MaxBody, Origin: "dissent.test", LedgerKey: skey, SignInLimit: 1000,
	}, vault.NewPasswords(vault.TestPasswordParams(), 8), nil)
	svc.Now = clock.Now
	h := &Harness{T: t, Ctx: context.Background(), Svc: svc, Store: st, Clock: clock, LedgerVKey: vkey, Calendar: cal}
	h.Shares, err = svc.Init(h.Ctx, service.Setup{
		Admin:      service.NewUser{Username: "admin", DisplayName: "Administrator", Email: "admin@example.test", Password: Password("admin"), Roles: []string{"admin"}},
		Custodians: []string{"custodian-1", "custodian-2", "custodian-3"}, Threshold: 2, LedgerVKey: vkey,
	})
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	h.Admin = h.SignIn("admin")
	return h
}

// Password is the test password of username.
func Password(username string) string { return username + "-password-1" }

// Create makes an account with the given roles (eligible members unless
// eligible is false) and returns it signed in.
func (h *Harness) Create(username string, eligible bool, roles ...string) *service.Actor {
	h.T.Helper()
	if len(roles) == 0 {
		roles = []string{"member"}
	}
	_, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{
		Username: username, DisplayName: "Display " + username, Email: username + "@example.test",
		Password: InitialPassword(username), Roles: roles, Eligible: eligible,
	})
	if err != nil {
		h.T.Fatalf("create user %q: %v", username, err)
	}
	h.Enrol(username)
	h.forgetAccountNotices(username)
	a := h.SignIn(username)
	// The custodians found the office with its first member.
	if slices.Contains(roles, "office") && !slices.Contains(roles, "admin") {
		if me, err := h.Svc.Me(h.Ctx, a); err != nil {
			h.T.Fatalf("me %q: %v", username, err)
		} else if me.OfficeAccess == "unfounded" {
			h.Found(username)
			a = h.SignIn(username)
		}
	}
	return a
}

// Found has Threshold of the custodians found the channel office with
// username, who reads them the fingerprint on their account page, as at
// the ceremony (`dissent office found`).
func (h *Harness) Found(username string) {
	h.T.Helper()
	me, err := h.Svc.Me(h.Ctx, h.SignIn(username))
	if err != nil {
		h.T.Fatalf("me %q: %v", username, err)
	}
	if _, err := h.Svc.FoundOffice(h.Ctx, h.Shares[:h.Shares[0].Threshold], username, me.KeysFingerprint); err != nil {
		h.T.Fatalf("the custodians found the office with %q: %v", username, err)
	}
}

// InitialPassword is the password the administrator gives username.
func InitialPassword(username string) string { return "initial-" + Password(username) }

// Enrol signs username in with the password the administrator gave them
// and has them choose their own, Password(username): their keys are made
// then.
func (h *Harness) Enrol(username string) {
	h.T.Helper()
	tok, _, err := h.Svc.SignIn(h.Ctx, username, InitialPassword(username))
	if err != nil {
		h.T.Fatalf("first sign-in of %q: %v", username, err)
	}
	if err := h.Svc.ChangePassword(h.Ctx, h.Authenticate(tok), InitialPassword(username), Password(username)); err != nil {
		h.T.Fatalf("%q chooses a password: %v", username, err)
	}
}

// Member makes an eligible member.
func (h *Harness) Member(username string) *service.Actor { return h.Create(username, true, "member") }

// Submitted is a memo that drafter wrote alone, signed and submitted, and
// its receipt.
func (h *Harness) Submitted(drafter *service.Actor, title string) (*service.Memo, *service.Receipt) {
	h.T.Helper()
	m, err := h.Svc.CreateMemo(h.Ctx, drafter, service.MemoInput{Title: title, Body: "body of " + title, Marking: "UNCLASSIFIED"})
	if err != nil {
		h.T.Fatalf("create %q: %v", title, err)
	}
	if _, err := h.Svc.Sign(h.Ctx, drafter, m.ID, m.Revision); err != nil {
		h.T.Fatalf("sign %q: %v", title, err)
	}
	rc, err := h.Svc.Submit(h.Ctx, drafter, m.ID, m.Revision)
	if err != nil {
		h.T.Fatalf("submit %q: %v", title, err)
	}
	return m, rc
}

// Cosigned is a memo that drafter wrote and signer was asked to co-sign,
// signed by both and submitted by drafter.
func (h *Harness) Cosigned(drafter, signer *service.Actor, title string) *service.Memo {
	h.T.Helper()
	m, err := h.Svc.CreateMemo(h.Ctx, drafter, service.MemoInput{Title: title, Body: "body of " + title, Marking: "UNCLASSIFIED"})
	if err != nil {
		h.T.Fatalf("create %q: %v", title, err)
	}
	if _, err := h.Svc.InviteSigners(h.Ctx, drafter, m.ID, []string{signer.User.Username}); err != nil {
		h.T.Fatalf("invite to %q: %v", title, err)
	}
	for _, a := range []*service.Actor{drafter, signer} {
		if _, err := h.Svc.Sign(h.Ctx, a, m.ID, m.Revision); err != nil {
			h.T.Fatalf("%s signs %q: %v", a.User.Username, title, err)
		}
	}
	if _, err := h.Svc.Submit(h.Ctx, drafter, m.ID, m.Revision); err != nil {
		h.T.Fatalf("submit %q: %v", title, err)
	}
	return m
}

// EntryIndex is the ledger index of the last event of m's history with
// that action by that actor (a username), failing the test if there is none.
func (h *Harness) EntryIndex(m *service.Memo, action, actor string) int64 {
	h.T.Helper()
	idx := int64(-1)
	for _, ev := range m.Events {
		if ev.Action == action && ev.Actor == actor {
			idx = ev.Index
		}
	}
	if idx < 0 {
		h.T.Fatalf("no %s by %s in the memo's history: %+v", action, actor, m.Events)
	}
	return idx
}

// SignIn signs username in with their test password.
func (h *Harness) SignIn(username string) *service.Actor {
	h.T.Helper()
	tok, _, err := h.Svc.SignIn(h.Ctx, username, Password(username))
	if err != nil {
		h.T.Fatalf("sign in %q: %v", username, err)
	}
	return h.Authenticate(tok)
}

// SignInOn signs username in with password on node (h.Svc or another
// node over h's store) and returns the actor.
func (h *Harness) SignInOn(node *service.Service, username, password string) *service.Actor {
	h.T.Helper()
	tok, _, err := node.SignIn(h.Ctx, username, password)
	if err != nil {
		h.T.Fatalf("sign in %q: %v", username, err)
	}
	a, err := node.Authenticate(h.Ctx, tok)
	if err != nil {
		h.T.Fatalf("authenticate: %v", err)
	}
	return a
}

// Authenticate turns a token into an actor.
func (h *Harness) Authenticate(token string) *service.Actor {
	h.T.Helper()
	a, err := h.Svc.Authenticate(h.Ctx, token)
	if err != nil {
		h.T.Fatalf("authenticate: %v", err)
	}
	return a
}

// Deployment is a typical cast: an office member, principals on the
// standing distribution, and members.
type Deployment struct {
	*Harness
	Office     *service.Actor
	Principals []*service.Actor
}

// NewDeployment sets up an office member "office", principals "p1" and
// "p2" on the standing distribution.
func NewDeployment(t testing.TB, st store.Store, opts ...Options) *Deployment {
	h := New(t, st, opts...)
	d := &Deployment{Harness: h}
	d.Office = h.Create("office", false, "office")
	d.Principals = []*service.Actor{h.Create("p1", false, "principal"), h.Create("p2", false, "principal")}
	if _, err := h.Svc.SetDistribution(h.Ctx, h.Admin, service.Distribution{Usernames: []string{"p1", "p2"}}); err != nil {
		t.Fatal(err)
	}
	h.Confirm(d.Office, d.Principals...)
	// The set-up's own notices (the accounts made and their keys, the
	// office told that p1's and p2's keys await it, p1 and p2 that it
	// confirmed them) are not what the tests look at: they start with
	// empty bells and outboxes.
	h.forgetNotices()
	return d
}

// forgetAccountNotices deletes the notices that making username's account
// and its first keys sent its user (account.created, account.keys_made):
// set-up, which the tests of other notices do not look at. Tests of these
// make the account with Svc.CreateUser.
func (h *Harness) forgetAccountNotices(username string) {
	h.T.Helper()
	db, ok := h.Store.(*sqlstore.DB)
	if !ok {
		return
	}
	_, err := db.Raw().ExecContext(h.Ctx, db.Rebind(`DELETE FROM notifications WHERE kind IN (?, ?)
		AND user_id = (SELECT id FROM users WHERE username = ?)`), service.KindAccountCreated, service.KindKeysMade, username)
	if err != nil {
		h.T.Fatal(err)
	}
}

// forgetNotices deletes every notice and e-mail stored so far: for a test
// that looks at what comes after its set-up (accounts made and their
// first keys notify their users).
func (h *Harness) forgetNotices() {
	h.T.Helper()
	if db, ok := h.Store.(*sqlstore.DB); ok {
		if _, err := db.Raw().ExecContext(h.Ctx, `DELETE FROM notifications`); err != nil {
			h.T.Fatal(err)
		}
	}
}

// Principal creates a principal, not on the standing distribution, whose
// keys d.Office has confirmed: one the office may add to a memo's readers.
func (d *Deployment) Principal(username string) *service.Actor {
	d.T.Helper()
	p := d.Create(username, false, "principal")
	d.Confirm(d.Office, p)
	return p
}

// Confirm has by, a member of the channel office, confirm the keys each
// of whose has now, as the person reads their fingerprint to the office:
// what a principal needs before the standing distribution reaches them.
func (h *Harness) Confirm(by *service.Actor, whose ...*service.Actor) {
	h.T.Helper()
	for _, a := range whose {
		me, err := h.Svc.Me(h.Ctx, a)
		if err != nil {
			h.T.Fatal(err)
		}
		c := service.KeyConfirmation{Fingerprint: me.KeysFingerprint, Principal: a.Has(channel.RolePrincipal) && !a.Has(channel.RoleAdmin)}
		if err := h.Svc.ConfirmKeys(h.Ctx, by, a.User.Username, c); err != nil {
			h.T.Fatalf("%s confirming %s's keys: %v", by.User.Username, a.User.Username, err)
		}
	}
}

// WithConfig returns another service over h's store, with cfg (from
// h.Svc.Config(), changed) and h's clock: a node configured otherwise.
func (h *Harness) WithConfig(cfg service.Config) *service.Service {
	svc := service.New(h.Store, cfg, vault.NewPasswords(vault.TestPasswordParams(), 8), nil)
	svc.Now = h.Clock.Now
	return svc
}

// Reopen returns a harness over st, a copy of h's deployment (a restored
// backup, a migrated database), with h's configuration and clock.
func Reopen(t testing.TB, h *Harness, st store.Store) *Harness {
	svc := service.New(st, h.Svc.Config(), vault.NewPasswords(vault.TestPasswordParams(), 8), nil)
	svc.Now = h.Clock.Now
	return &Harness{T: t, Ctx: h.Ctx, Svc: svc, Store: st, Clock: h.Clock, Shares: h.Shares, LedgerVKey: h.LedgerVKey, Calendar: h.Calendar}
}
