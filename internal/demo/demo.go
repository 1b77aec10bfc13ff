// Package demo fills an empty deployment with a story a visitor recognises:
// the 2016 Syria memo with dozens of co-signers, and memos in every state
// of the lifecycle. It goes through the service like any other caller.
package demo

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Password is every demo account's password.
const Password = "dissent-demo-2026"

// Account is a demo account to print for the visitor.
type Account struct {
	Username, Role, Note string
}

// Contractor is the demo's member who is not eligible to file, under a
// profile that asks for eligibility.
const Contractor = "casey"

// Accounts are the demo's people, in the order they are shown.
var Accounts = []Account{
	{"amara", "member", "drafts the Syria memo"},
	{"ben", "member", "co-drafts; has a memo circulating"},
	{"ruth", "office", "Policy Planning, the channel office"},
	{"secretary", "principal", "on the standing distribution"},
	{"inspector", "auditor", "inspector general"},
	{"admin", "admin", "runs the service; reads no memo"},
	{Contractor, "member", "a contractor: may not file"},
}

type seeder struct {
	ctx    context.Context
	svc    *service.Service
	clock  *clock
	actors map[string]*service.Actor
	shares []vault.Share // the recovery custodians', who found the office
}

// clock is the service's clock while the demo is seeded: the seeder moves
// it, and once seeding ends it is the real one again. The service reads it
// from other goroutines too (it follows the ledger in the background), so
// it is never swapped out, only told to stop.
type clock struct {
	mu   sync.Mutex
	at   time.Time
	done bool
	real func() time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.done {
		return c.real()
	}
	return c.at
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.at = c.at.Add(d)
	c.mu.Unlock()
}

func (c *clock) stop() {
	c.mu.Lock()
	c.done = true
	c.mu.Unlock()
}

// Seed creates the demo accounts and memos. admin must be an administrator
// of an empty deployment (after service.Init). The service's clock is moved
// through the past three weeks while seeding and restored at the end.
func Seed(ctx context.Context, svc *service.Service, admin *service.Actor, shares []vault.Share) error {
	c := &clock{real: svc.Now, at: svc.Now().Add(-21 * 24 * time.Hour).Truncate(time.Hour)}
	defer c.stop()
	s := &seeder{ctx: ctx, svc: svc, clock: c, actors: map[string]*service.Actor{"admin": admin}, shares: shares}
	svc.Now = c.now
	if err := s.people(); err != nil {
		return err
	}
	return s.memos()
}

func (s *seeder) tick(d time.Duration) { s.clock.advance(d) }

// user makes an account as the administrator does, with a first password
// of theirs, and has its user choose their own, Password, which makes
// their keys.
func (s *seeder) user(name, display string, roles []string, eligible bool) error {
	first := "first-" + Password
	_, err := s.svc.CreateUser(s.ctx, s.actors["admin"], service.NewUser{
		Username: name, DisplayName: display, Email: name + "@demo.invalid", Password: first, Roles: roles, Eligible: eligible,
	})
	if err != nil {
		return fmt.Errorf("demo: user %q: %w", name, err)
	}
	tok, _, err := s.svc.SignIn(s.ctx, name, first)
	if err != nil {
		return fmt.Errorf("demo: first sign-in of %q: %w", name, err)
	}
	a, err := s.svc.Authenticate(s.ctx, tok)
	if err != nil {
		return err
	}
	if err := s.svc.ChangePassword(s.ctx, a, first, Password); err != nil {
		return fmt.Errorf("demo: %q chooses a password: %w", name, err)
	}
	return nil
}

// as signs in once and keeps the actor for the rest of the seeding.
func (s *seeder) as(name string) *service.Actor {
	if a, ok := s.actors[name]; ok {
		return a
	}
	tok, _, err := s.svc.SignIn(s.ctx, name, Password)
	if err != nil {
		panic(fmt.Sprintf("demo: sign in %q: %v", name, err))
	}
	a, err := s.svc.Authenticate(s.ctx, tok)
	if err != nil {
		panic(fmt.Sprintf("demo: authenticate %q: %v", name, err))
	}
	s.actors[name] = a
	return a
}

var signerNames = []string{
	"abbott", "adeyemi", "alvarez", "andersen", "bauer", "becker", "bishop", "brennan", "castillo", "chandra",
	"cohen", "costa", "dalton", "delgado", "dubois", "ellis", "fischer", "foster", "garcia", "goldberg",
	"grant", "haddad", "hansen", "hughes", "ibrahim", "iversen", "jensen", "kahn", "keller", "kowalski",
	"larsen", "lopez", "mbeki", "meyer", "moreau", "nakamura", "novak", "okafor", "olsen", "park",
	"patel", "quinn", "rossi", "sato", "schmidt", "silva", "tanaka", "walsh", "weber",
}

var principals = [][2]string{
	{"secretary", "The Secretary"}, {"deputy", "The Deputy Secretary"}, {"under-secretary", "Under Secretary for Political Affairs"},
	{"exec-secretary", "The Executive Secretary"}, {"forum-chair", "Chair of the Open Forum"},
}

func (s *seeder) people() error {
	type u struct {
		name, display string
		roles         []string
		eligible      bool
	}
	us := []u{
		{"ruth", "Ruth Hale (Policy Planning)", []string{"office"}, false},
		{"omar", "Omar Reyes (Policy Planning)", []string{"office"}, false},
		{"inspector", "Office of Inspector General", []string{"auditor"}, false},
		{"amara", "Amara Okonjo", []string{"member"}, true},
		{"ben", "Ben Whitaker", []string{"member"}, true},
		{"chen", "Chen Li", []string{"member"}, true},
		{"dana", "Dana Morgan", []string{"member"}, true},
		{"casey", "Casey Ford (contractor)", []string{"member"}, false},
	}
	for _, p := range principals {
		us = append(us, u{p[0], p[1], []string{"principal"}, false})
	}
	for _, n := range signerNames {
		us = append(us, u{n, strings.ToUpper(n[:1]) + n[1:] + " (Foreign Service)", []string{"member"}, true})
	}
	for _, x := range us {
		if err := s.user(x.name, x.display, x.roles, x.eligible); err != nil {
			return err
		}
	}
	// The custodians found the office with Ruth, who has just signed in
	// for the first time in their sight and reads them the fingerprint on
	// her account page.
	s.tick(10 * time.Minute)
	me, err := s.svc.Me(s.ctx, s.as("ruth"))
	if err != nil {
		return err
	}
	if _, err := s.svc.FoundOffice(s.ctx, s.shares[:s.shares[0].Threshold], "ruth", me.KeysFingerprint); err != nil {
		return fmt.Errorf("demo: found the office: %w", err)
	}
	delete(s.actors, "ruth") // signed in again, with the office's key
	s.tick(50 * time.Minute)
	if err := s.svc.GrantOffice(s.ctx, s.as("ruth"), "omar"); err != nil {
		return fmt.Errorf("demo: grant office: %w", err)
	}
	names := make([]string, len(principals))
	for i, p := range principals {
		names[i] = p[0]
	}
	if _, err := s.svc.SetDistribution(s.ctx, s.actors["admin"], service.Distribution{Usernames: names}); err != nil {
		return err
	}
	// Memos reach a principal once the office has confirmed their keys:
	// each reads Ruth the fingerprint on their account page.
	s.tick(time.Hour)
	for _, n := range names {
		me, err := s.svc.Me(s.ctx, s.as(n))
		if err != nil {
			return err
		}
		if err := s.svc.ConfirmKeys(s.ctx, s.as("ruth"), n, service.KeyConfirmation{Fingerprint: me.KeysFingerprint, Principal: true}); err != nil {
			return fmt.Errorf("demo: confirm %q's keys: %w", n, err)
		}
	}
	return nil
}

// draft creates a memo by drafter with co-drafters.
func (s *seeder) draft(drafter, title, body string, codrafters ...string) *service.Memo {
	m, err := s.svc.CreateMemo(s.ctx, s.as(drafter), service.MemoInput{Title: title, Body: body, Marking: "SENSITIVE BUT UNCLASSIFIED", Codrafters: codrafters})
	s.must("draft", err)
	return m
}

func (s *seeder) must(what string, err error) {
	if err != nil {
		panic(fmt.Sprintf("demo: %s: %v", what, err))
	}
}

func (s *seeder) sign(m *service.Memo, who ...string) {
	for _, w := range who {
		_, err := s.svc.Sign(s.ctx, s.as(w), m.ID, m.Revision)
		s.must("sign", err)
		s.tick(7 * time.Minute)
	}
}

func (s *seeder) submit(m *service.Memo, drafter string) {
	_, err := s.svc.Submit(s.ctx, s.as(drafter), m.ID, m.Revision)
	s.must("submit", err)
}

func (s *seeder) memos() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("%v", p)
		}
	}()
	// The seed case: one memo, 51 authors, a meeting with the Secretary.
	s.tick(2 * time.Hour)
	cable := s.draft("amara", "Syria: the case for a more muscular policy", syriaBody, "ben")
	m, err := s.svc.EditMemo(s.ctx, s.as("ben"), cable.ID, service.EditInput{Title: cable.Title, Body: syriaBody + syriaAddendum, Marking: cable.Marking, ExpectedRevision: 1})
	s.must("edit", err)
	cable = m
	_, err = s.svc.InviteSigners(s.ctx, s.as("amara"), cable.ID, signerNames)
	s.must("invite", err)
	s.tick(3 * time.Hour)
	s.sign(cable, "amara", "ben")
	s.sign(cable, signerNames...)
	s.submit(cable, "amara")
	s.tick(26 * time.Hour)
	_, err = s.svc.Acknowledge(s.ctx, s.as("ruth"), cable.ID)
	s.must("acknowledge", err)
	s.tick(2 * time.Hour)
	_, err = s.svc.GetMemo(s.ctx, s.as("secretary"), cable.ID)
	s.must("read", err)
	_, err = s.svc.Comment(s.ctx, s.as("secretary"), cable.ID, "I would like to meet a group of the authors this week.")
	s.must("comment", err)
	s.tick(3 * 24 * time.Hour)
	_, err = s.svc.RecordMeeting(s.ctx, s.as("ruth"), cable.ID, service.MeetingInput{
		HeldAt: s.clock.now().Add(-2 * time.Hour), Minutes: 30, Principal: "secretary",
		Attendees: []string{"amara", "ben", "abbott", "brennan", "chandra", "dalton", "ellis", "garcia", "haddad", "ibrahim"},
		Notes:     "The Secretary heard the authors' case and asked Policy Planning for options within two weeks.",
	})
	s.must("meeting", err)

	// Closed: replied and closed.
	s.tick(time.Hour)
	closed := s.draft("chen", "Consular staffing in high-threat posts", "Posts rated critical for threat are staffed by first-tour officers on one-year tours. Continuity suffers. We propose two-year tours with language training.")
	s.sign(closed, "chen")
	s.submit(closed, "chen")
	s.tick(20 * time.Hour)
	_, err = s.svc.Acknowledge(s.ctx, s.as("omar"), closed.ID)
	s.must("acknowledge", err)
	s.tick(5 * 24 * time.Hour)
	_, err = s.svc.Reply(s.ctx, s.as("ruth"), closed.ID, "Thank you. The Director General has agreed to pilot two-year tours at three posts from the next assignment cycle.")
	s.must("reply", err)
	_, err = s.svc.Close(s.ctx, s.as("ruth"), closed.ID)
	s.must("close", err)

	// Replied, waiting to be closed.
	s.tick(time.Hour)
	replied := s.draft("dana", "Climate migration should shape our aid priorities", "Displacement driven by drought already exceeds conflict displacement in three of our partner countries. Our aid framework does not count it.")
	s.sign(replied, "dana")
	s.submit(replied, "dana")
	s.tick(30 * time.Hour)
	_, err = s.svc.Reply(s.ctx, s.as("ruth"), replied.ID, "Policy Planning shares the concern; the next aid review will add displacement from climate causes as a criterion.")
	s.must("reply", err)

	// Returned as out of scope.
	s.tick(time.Hour)
	returned := s.draft("ben", "Embassy parking allocation", "The parking allocation at our mission favours senior staff; junior staff commute two hours.")
	s.sign(returned, "ben")
	s.submit(returned, "ben")
	s.tick(4 * time.Hour)
	_, err = s.svc.Return(s.ctx, s.as("ruth"), returned.ID, "This is a management matter, not a policy question: please raise it with the post's management officer.")
	s.must("return", err)

	// Withdrawn by its drafter.
	s.tick(time.Hour)
	withdrawn := s.draft("chen", "Arms sales review", "An early draft on arms-sale review procedures.")
	_, err = s.svc.Withdraw(s.ctx, s.as("chen"), withdrawn.ID, "Superseded by an interagency review announced this week.")
	s.must("withdraw", err)

	// Circulating: invited, one signature so far.
	s.tick(2 * 24 * time.Hour)
	circ := s.draft("ben", "Visa waiver reciprocity", "Our visa waiver negotiations ask partners for terms we do not offer them. We should align our own practice first.")
	_, err = s.svc.InviteSigners(s.ctx, s.as("ben"), circ.ID, []string{"amara", "chen", "dana"})
	s.must("invite", err)
	s.sign(circ, "ben", "chen")

	// Submitted, waiting for acknowledgement.
	s.tick(24 * time.Hour)
	sub := s.draft("amara", "Sanctions exemptions for humanitarian goods", "Banks over-comply with our sanctions and block humanitarian shipments that the rules exempt. We should publish clear guidance.")
	s.sign(sub, "amara")
	s.submit(sub, "amara")

	// Under a policy that takes anonymous reports (the EU profile): one,
	// acknowledged, whose author the office does not know.
	if s.svc.Config().Profile.Anonymous {
		s.tick(3 * time.Hour)
		anon, err := s.svc.CreateMemo(s.ctx, s.as("dana"), service.MemoInput{Title: "Procurement: invoices split to stay under the tender threshold",
			Body:    "Since March, purchases of field equipment have been split into invoices just under the open-tender threshold, always to the same two suppliers.",
			Marking: "SENSITIVE BUT UNCLASSIFIED", Anonymous: true})
		s.must("anonymous report", err)
		s.sign(anon, "dana")
		s.submit(anon, "dana")
		s.tick(26 * time.Hour)
		_, err = s.svc.Acknowledge(s.ctx, s.as("ruth"), anon.ID)
		s.must("acknowledge", err)
	}

	// A draft.
	s.tick(2 * time.Hour)
	s.draft("amara", "Notes: visa processing backlog", "Working notes on the backlog at our largest consulates. Not ready to circulate.")
	return nil
}

const syriaBody = `We, the undersigned, dissent from the current policy on Syria.

The cessation of hostilities has not held. Civilian casualties continue to mount, and the political process has stalled because one side sees no cost in waiting.

We recommend a judicious use of stand-off and air weapons, which would undergird and drive a more focused and hard-nosed US-led diplomatic process.
`

const syriaAddendum = `
We recognise the risks. We believe the risks of the present course are greater.
`
