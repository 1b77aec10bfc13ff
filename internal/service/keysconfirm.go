package service

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Keys made again for an account await the channel office's confirmation.
//
// An administrator can reset anyone's password, sign in with the password
// they chose, and start afresh with new keys (NewKeys). For a principal on
// the standing distribution, every memo submitted after that would be
// wrapped to keys the administrator holds. So keys made again after an
// account's first — started afresh, recovered by the custodians, or put
// back at a sign-in — are used by the account itself at once, but nobody
// else wraps a memo key or an invitation to them until a member of the
// channel office, who holds the office key and is not an administrator,
// confirms them with the person (ConfirmKeys). Until then a principal is
// left out of the distribution, and inviting the account, adding it as a
// reader or letting it into the office is refused with the reason.
//
// A principal's keys, their first ones included, wait the same way before
// the standing distribution, the office or a key rotation wraps to them
// (principalHeld): an administrator chooses the distribution and can make
// a new account's first keys.
//
// The rule is read from the ledger, not from the users row: the action of
// the entry anchoring the keys says whether they need confirming, and the
// confirmation is itself a ledger entry (user.keys_confirmed, or
// user.principal_confirmed for a principal, by a named
// office member, its content the keys' hash), proved like an anchor before
// it counts. Someone who can write the database can neither drop the need
// nor forge the confirmation.

// reKeyActions are the anchoring entries whose keys await confirmation.
var reKeyActions = []string{"user.keys_afresh", "user.keys_recovered", "user.keys_restored"}

// awaitConfirmation marks u's keys, just anchored again, as awaiting the
// office's confirmation, and tells the office's members. A confirmation
// of the same keys before (keys recovered or put back are the ones they
// were) does not count: a confirmation counts only for keys as the entry
// before it anchored them (keysConfirmed), since it vouches that the
// person, not whoever anchored the keys again, holds them.
func (s *Service) awaitConfirmation(ctx context.Context, tx store.Tx, u *store.User) error {
	u.KeysConfirmed = store.KeysAwaitConfirmation
	return s.tellOfficeKeysAwait(ctx, tx, []*store.User{u})
}

// tellOfficeKeysAwait tells the office's members, but those of whose,
// that keys await their confirmation. The notice names no one: the
// office's list says whose (KeysAwaitingConfirmation).
func (s *Service) tellOfficeKeysAwait(ctx context.Context, tx store.Tx, whose []*store.User) error {
	office, err := s.officeRecipients(ctx, tx)
	if err != nil {
		return err
	}
	to := slices.DeleteFunc(office, func(m *store.User) bool {
		return slices.ContainsFunc(whose, func(u *store.User) bool { return u.ID == m.ID })
	})
	return tx.AddNotifications(ctx, s.notices(to, KindKeysAwaiting, "", time.Time{}, s.reminders()))
}

// errAwaitingConfirmation is the refusal to wrap to keys that await it.
func errAwaitingConfirmation(field, username string) error {
	const why = "%q has keys that the channel office has not confirmed yet: a member of the office confirms them with the person first (Office, Members)"
	if field == "" {
		return channel.Errorf(channel.ECONFLICT, why, username)
	}
	return channel.Invalid(field, why, username)
}

// requireConfirmedKeys refuses what an account does in others' sight in
// its own name while its keys await the office's confirmation: asking
// colleagues to co-draft or co-sign, signing, submitting, withdrawing,
// commenting, the office's steps, letting someone into the office,
// confirming someone's keys. Whoever made the keys — the person, or an
// administrator who reset the password and started afresh — may draft
// and read what the keys open, but nothing goes out under the account's
// name until the office has confirmed with the person that the keys are
// theirs.
func (s *Service) requireConfirmedKeys(ctx context.Context, tx store.Tx, a *Actor, what string) error {
	held, err := s.keysHeld(ctx, tx, a.User)
	if err != nil || !held {
		return err
	}
	return channel.Errorf(channel.ECONFLICT, "your keys are new and the channel office has not confirmed them yet, so you cannot %s: read the fingerprint on your account page to a member of the office, who confirms them", what)
}

// actsAsPrincipal reports whether memos may be wrapped to u as to a
// principal, by the distribution or by the office: an active account with
// the principal role and keys, and not an administrator, who must never
// read a memo (the two roles are refused together; an account that holds
// both from before is passed by).
func actsAsPrincipal(u *store.User) bool {
	return !u.Disabled && u.KeyState == keysActive && hasRole(u, channel.RolePrincipal) && !hasRole(u, channel.RoleAdmin)
}

// keysHeld checks u's keys against their anchor (checkUserKeys) and
// reports whether others may not wrap to them yet: they were made again
// and the office has not confirmed them.
func (s *Service) keysHeld(ctx context.Context, tx store.Tx, u *store.User) (bool, error) {
	h := keysHash(u.ID, u.Username, u.BoxPublic, u.SignPublic)
	again, err := s.anchoredAgain(ctx, tx, u.ID, h, u.KeysAnchor)
	if err != nil || !again {
		return false, err
	}
	ok, err := s.keysConfirmed(ctx, tx, u, false)
	return !ok, err
}

// principalHeld checks principal p's keys against their anchor and
// reports whether memos pass p by (the standing distribution, the office's
// readers, a key rotation): the office has not confirmed p's keys, their
// first ones included, as a principal's. An
// administrator manages the distribution and can make a principal's first
// keys (create the account and sign in to it before its person does) or
// put their own account on it; the office's confirmation with the person,
// by a member who is not an administrator, is what lets memos reach a
// principal. A confirmation given while the account was not a principal
// (of keys made again) does not count: the office vouched
// for the keys then, not for the account as a principal, and an
// administrator whose own keys it once confirmed could otherwise put
// themself on the distribution and read by it.
func (s *Service) principalHeld(ctx context.Context, tx store.Tx, p *store.User) (bool, error) {
	if held, err := s.keysHeld(ctx, tx, p); err != nil || held {
		return held, err
	}
	ok, err := s.keysConfirmed(ctx, tx, p, true)
	return !ok, err
}

// keysConfirmed reports whether the office confirmed u's keys as they are
// now: u.KeysConfirmed names a ledger entry, proved before it counts, in
// which a member of the office confirmed their hash after the entry that
// anchors them, u.KeysAnchor (which the caller has proved the newest of
// the account's anchors). asPrincipal asks for a confirmation given while
// u was a principal (user.principal_confirmed).
func (s *Service) keysConfirmed(ctx context.Context, tx store.Tx, u *store.User, asPrincipal bool) (bool, error) {
	if u.KeysConfirmed < 0 || u.KeysConfirmed < u.KeysAnchor {
		return false, nil
	}
	h := keysHash(u.ID, u.Username, u.BoxPublic, u.SignPublic)
	subject, principalSubject := "confirmed:"+u.ID, "principal:"+u.ID
	if _, ok := s.anchors.cached(subject, h, u.KeysConfirmed); ok && !asPrincipal {
		return true, nil
	}
	if _, ok := s.anchors.cached(principalSubject, h, u.KeysConfirmed); ok {
		return true, nil
	}
	principal, problem, err := s.proveConfirmation(ctx, tx, h, u.KeysConfirmed)
	if err != nil {
		return false, err
	}
	if problem != "" {
		s.tampered.Store(true)
		s.log.Error("a confirmation of keys in the database is not one the ledger holds: the keys are not used; find who changed users.keys_confirmed", "user", u.ID, "entry", u.KeysConfirmed, "problem", problem)
		return false, errInternal("%w: %s: %s", ErrNotAnchored, u.ID, problem)
	}
	s.anchors.put(subject, provedAnchor{hash: h, entry: u.KeysConfirmed})
	if principal {
		s.anchors.put(principalSubject, provedAnchor{hash: h, entry: u.KeysConfirmed})
	}
	return principal || !asPrincipal, nil
}

// The two confirmations: of an account's keys, and of a principal's keys
// while the account is a principal, which counts as the first too.
const (
	actionKeysConfirmed      = "user.keys_confirmed"
	actionPrincipalConfirmed = "user.principal_confirmed"
)

// proveConfirmation says what is wrong with entry idx as the office's
// confirmation of the keys hashing to h, or "" if nothing is, when it
// also reports whether it confirmed them as a principal's.
func (s *Service) proveConfirmation(ctx context.Context, tx store.Tx, h [32]byte, idx int64) (principal bool, problem string, err error) {
	l, _, problem, err := s.checkpointedEntry(ctx, tx, idx)
	if problem != "" || err != nil {
		return false, problem, err
	}
	if (l.Action != actionKeysConfirmed && l.Action != actionPrincipalConfirmed) || l.Role != ledger.RoleOffice || l.Actor == "" || l.Content != hex.EncodeToString(h[:]) {
		return false, fmt.Sprintf("entry %d (%s) is not the office's confirmation of these keys", idx, l.Action), nil
	}
	return l.Action == actionPrincipalConfirmed, "", nil
}

// keysFingerprint names u's public keys in 80 bits, as five groups of four
// hex digits: the start of their anchor hash (keysHash). The person reads
// it from their account page to the office member who confirms their keys,
// so that the member confirms the keys the person has, not keys someone
// made since; making other keys with the same fingerprint takes 2^80 tries.
func keysFingerprint(u *store.User) string {
	h := keysHash(u.ID, u.Username, u.BoxPublic, u.SignPublic)
	x := hex.EncodeToString(h[:10])
	return x[0:4] + " " + x[4:8] + " " + x[8:12] + " " + x[12:16] + " " + x[16:20]
}

// sameFingerprint compares a fingerprint as typed, spaces and case aside.
func sameFingerprint(typed, want string) bool {
	norm := func(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), "")) }
	return norm(typed) == norm(want)
}

// KeysAwaiting is an account whose keys await the office's confirmation.
type KeysAwaiting struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	Roles       []string `json:"roles"`
	// Principal says the account is a principal, to be confirmed as one
	// (KeyConfirmation.Principal): memos will reach them.
	Principal bool `json:"principal"`
	// No fingerprint: the office must have it from the person.
}

// KeyConfirmation is what a member of the office confirms: the
// fingerprint the person read to them, and whether they confirm the
// account as a principal, as the office's list showed it. The two must
// agree with the account when the confirmation is recorded, so that a
// role changed after the office looked (an administrator made a
// principal) is not confirmed in its stead.
type KeyConfirmation struct {
	Fingerprint string `json:"fingerprint"`
	Principal   bool   `json:"principal"`
}

// awaitsConfirmation reports whether u's keys await the office's
// confirmation: u is a principal (actsAsPrincipal) and the office has not
// confirmed them as a principal's (principalHeld), or they were made again
// (keysHeld). principal says u is a principal.
func (s *Service) awaitsConfirmation(ctx context.Context, tx store.Tx, u *store.User) (awaits, principal bool, err error) {
	if actsAsPrincipal(u) {
		awaits, err = s.principalHeld(ctx, tx, u)
		return awaits, true, err
	}
	awaits, err = s.keysHeld(ctx, tx, u)
	return awaits, false, err
}

// heldPrincipals are the principals among us whose keys the office has
// not confirmed as a principal's (principalHeld).
func (s *Service) heldPrincipals(ctx context.Context, tx store.Tx, us []*store.User) ([]*store.User, error) {
	var out []*store.User
	for _, p := range us {
		if !actsAsPrincipal(p) {
			continue
		}
		if held, err := s.principalHeld(ctx, tx, p); err != nil {
			return nil, err
		} else if held {
			out = append(out, p)
		}
	}
	return out, nil
}

// KeysAwaitingConfirmation lists the accounts whose keys await the
// office's confirmation, for a member of the office who holds its key:
// keys made again, and the keys of principals that the office has not
// confirmed as a principal's.
func (s *Service) KeysAwaitingConfirmation(ctx context.Context, a *Actor) ([]KeysAwaiting, error) {
	out := []KeysAwaiting{}
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		if _, err := s.officeIdentity(ctx, tx, a); err != nil {
			return err
		}
		us, err := tx.UsersAwaitingConfirmation(ctx)
		if err != nil {
			return err
		}
		all, err := tx.UsersWithRole(ctx, string(channel.RolePrincipal))
		if err != nil {
			return err
		}
		principals, err := s.heldPrincipals(ctx, tx, all)
		if err != nil {
			return err
		}
		seen := map[string]bool{}
		for _, u := range append(us, principals...) {
			if u.KeyState == keysActive && !seen[u.ID] {
				seen[u.ID] = true
				out = append(out, KeysAwaiting{Username: u.Username, DisplayName: u.DisplayName, Roles: u.Roles, Principal: actsAsPrincipal(u)})
			}
		}
		slices.SortFunc(out, func(x, y KeysAwaiting) int { return strings.Compare(x.Username, y.Username) })
		return nil
	})
	return out, err
}

// ConfirmKeys records that a member of the channel office confirmed, with
// the person, that the keys username now has are theirs: from then on
// they are wrapped to like anyone's. c.Fingerprint is the one the person
// read from their account page; it must be the keys' now, so that keys
// made again in between are not confirmed in their stead; c.Principal
// must say whether the account is a principal now (actsAsPrincipal), and
// the confirmation is then a principal's. The confirmer
// must hold the office key and keys that need no confirmation, must not
// be an administrator (who could have made the keys) and must not be the
// account itself. In the same transaction the confirmer's office key
// shares with the account what was withheld from it meanwhile
// (shareWithheld).
func (s *Service) ConfirmKeys(ctx context.Context, a *Actor, username string, c KeyConfirmation) error {
	if a.Has(channel.RoleAdmin) {
		return channel.Errorf(channel.EFORBIDDEN, "an administrator may not confirm keys: an administrator can reset a password and make keys, so the confirmation must come from someone else in the channel office")
	}
	// The confirmation shares withheld memos, which opens them: mail
	// waiting for the office member is collected first, as for any memo.
	// A submission on another node may hold rows the confirmation needs
	// (PostgreSQL then ends one of the two): it runs again.
	return s.withMail(ctx, a, func(ctx context.Context) error {
		return s.retry(ctx, func(tx store.Tx) error { return s.confirmKeys(ctx, tx, a, username, c) })
	})
}

// confirmKeys is ConfirmKeys in tx.
func (s *Service) confirmKeys(ctx context.Context, tx store.Tx, a *Actor, username string, c KeyConfirmation) error {
	if _, err := s.officeIdentity(ctx, tx, a); err != nil {
		return err
	}
	if err := s.requireConfirmedKeys(ctx, tx, a, "confirm anyone's keys"); err != nil {
		return err
	}
	u, err := tx.UserByUsername(ctx, username)
	if err != nil {
		return storeErr(err, "the account")
	}
	if u.ID == a.User.ID {
		return channel.Errorf(channel.EFORBIDDEN, "another member of the channel office confirms your keys, not you")
	}
	if u.Disabled || u.KeyState != keysActive {
		return channel.Invalid("username", "%q has no keys to confirm until %s", username, notActive(u))
	}
	awaits, principal, err := s.awaitsConfirmation(ctx, tx, u)
	if err != nil {
		return err
	}
	if !awaits {
		return channel.Invalid("username", "%q has no keys awaiting confirmation", username)
	}
	if c.Principal != principal {
		if principal {
			return channel.Invalid("principal", "%q is a principal now: look at the list again, and confirm them as a principal only if the person should read the memos", username)
		}
		return channel.Invalid("principal", "%q is not a principal now: look at the list again", username)
	}
	if !sameFingerprint(c.Fingerprint, keysFingerprint(u)) {
		return channel.Invalid("fingerprint", "that is not the fingerprint of the keys %q has now: ask the person to read you the one on their account page again, and confirm only if it matches", username)
	}
	h := keysHash(u.ID, u.Username, u.BoxPublic, u.SignPublic)
	action := actionKeysConfirmed
	if principal {
		action = actionPrincipalConfirmed
	}
	idx, err := s.record(ctx, tx, event{action: action, actor: a, role: string(channel.RoleOffice), subject: u.ID, content: h[:]})
	if err != nil {
		return err
	}
	u.KeysConfirmed = idx
	if err := tx.UpdateUser(ctx, u); err != nil {
		return storeErr(err, "the account")
	}
	if err := s.accountNotice(ctx, tx, u, KindKeysConfirmed, u.Email); err != nil {
		return err
	}
	// What was withheld was withheld from a principal: a confirmation of
	// keys alone, of an account that is not one now, shares none of it.
	if principal {
		if err := s.shareWithheld(ctx, tx, a, u); err != nil {
			return err
		}
	}
	if err := s.mailRotatedKeys(ctx, tx, a, u); err != nil {
		return err
	}
	_, err = s.checkpoint(ctx, tx)
	return err
}

// mailRotatedKeys mails u, whose keys a, a member of the office, has just
// confirmed, every key version of each memo u wrote whose key the office
// rotated (RevokeReader). A rotation mails the new version to the authors,
// but not to one whose keys awaited this confirmation (rotate): without
// it, such an author, whose own index holds only the older versions, no
// longer opens their memo at all. a's office key opens each rotated
// memo's roster, which says whether u wrote it.
//
// Only keys the account had before are mailed: keys the custodians
// recovered or a sign-in put back (the anchoring entry says which), whose
// index already holds the memo's older versions. Keys made afresh after a
// reset start without the memos shared with the old ones, rotated or not:
// someone who took the account over gets none by the confirmation.
//
// Who wrote what is kept from the database: every rotated memo the office
// holds gets one mail sealed to u, holding the memo's keys if u wrote it
// and otherwise filler of the same length (no memo id, random keys as
// many as the memo's versions), which u's collection of mail takes and
// deletes like the others. Rotations are rare (a reader taken off a
// memo), so this is a short list.
func (s *Service) mailRotatedKeys(ctx context.Context, tx store.Tx, a *Actor, u *store.User) error {
	l, _, problem, err := s.checkpointedEntry(ctx, tx, u.KeysAnchor)
	if err != nil {
		return err
	}
	if problem != "" {
		return errInternal("%w: %s: %s", ErrNotAnchored, u.ID, problem)
	}
	if l.Action != "user.keys_recovered" && l.Action != "user.keys_restored" {
		return nil
	}
	office, err := s.officeIdentity(ctx, tx, a)
	if err != nil {
		return err
	}
	f := store.MemoFilter{Grantee: officeGroup, Rotated: true, Limit: 100}
	for {
		page, err := tx.ListMemos(ctx, f)
		if err != nil {
			return err
		}
		for _, rec := range page {
			keys, err := s.unwrapAccess(ctx, tx, queryWays{}, a, rec, officeGroup, office)
			if err != nil {
				return err
			}
			// Only keys the memo's ledger made go out: a key version
			// someone wrote into the database, with a roster naming u,
			// would otherwise have the office mail u every key it holds.
			if err := s.keysVouched(ctx, tx, &opened{rec: rec, keys: keys}); err != nil {
				return err
			}
			var roster channel.Roster
			if err := openJSON(keys, rec.KeyVersion, rec.ID, "roster", rec.Roster, &roster); err != nil {
				return err
			}
			entry := keyEntry{Memo: rec.ID, Keys: keys.encode()}
			if roster.Find(u.ID) < 0 {
				entry.Memo = strings.Repeat("0", len(rec.ID)) // never a memo's id (channel.ValidID)
				for kv := range keys {
					if keys[kv], err = vault.NewKey(); err != nil {
						return err
					}
				}
				entry.Keys = keys.encode()
			}
			plain, err := json.Marshal(entry)
			if err != nil {
				return err
			}
			sealed, err := vault.SealTo(u.BoxPublic, plain)
			if err != nil {
				return err
			}
			if err := tx.PostMail(ctx, &store.Mail{ID: newID(), PostedAt: micros(s.now()), Sealed: sealed}); err != nil {
				return err
			}
		}
		if len(page) < f.Limit {
			return nil
		}
		last := page[len(page)-1]
		f.AfterKey, f.AfterID = last.UpdatedAt, last.ID
	}
}

// readersStep is what one of a memo's own ledger entries says about who
// reads it: the submission names the principals it went to (To; nil in a
// submission of a release before it did) and those it withheld from; the
// office's additions name the readers added, and a removal the reader
// removed (and, when that rotated the key, those withheld from the new
// one). Details are sealed under the memo's keys, so no one without them
// can write one, nor move one from another memo.
type readersStep struct {
	action string
	// unreadable: the leaf commits to a detail that is missing or does
	// not open, which only someone who changed the database causes.
	unreadable bool
	To         *[]string `json:"to"`
	Withheld   []string  `json:"withheld"`
	Added      []string  `json:"added"`
	Revoked    string    `json:"revoked"`
}

// readersSteps reads o's ledger entries that say who reads it, oldest
// first. They are found by the memo each leaf is filed under, which its
// hash does not cover: a leaf of o's filed elsewhere since o's first (a
// removal, hidden so that a rotation or a confirmation gives the memo to
// the reader removed) is tampering, and refused.
func (s *Service) readersSteps(ctx context.Context, tx store.Tx, o *opened) ([]readersStep, error) {
	entries, err := tx.MemoLedger(ctx, o.rec.ID)
	if err != nil {
		return nil, err
	}
	if len(entries) > 0 {
		bad, err := tx.MemoLeafFiledElsewhere(ctx, o.rec.ID, entries[0].Index)
		if err != nil {
			return nil, err
		}
		if bad >= 0 {
			s.tampered.Store(true)
			s.log.Error("a ledger entry about a memo is filed under another memo or action, which hides it from the memo's history: refused; find who changed ledger_leaves", "memo", o.rec.ID, "entry", bad)
			return nil, errInternal("ledger entry %d of memo %s is filed elsewhere", bad, o.rec.ID)
		}
	}
	var steps []readersStep
	for _, e := range entries {
		l, err := ledger.DecodeLeaf(e.Data)
		if err != nil {
			return nil, errInternal("ledger leaf %d: %w", e.Index, err)
		}
		switch l.Action {
		case "memo.submit", "memo.distribute", "memo.revoke":
			d := readersStep{action: l.Action}
			if l.Detail != "" && !openDetail(o.keys, o.rec.ID, l, e.Detail, &d) {
				d = readersStep{action: l.Action, unreadable: true}
			}
			steps = append(steps, d)
		}
	}
	return steps, nil
}

// withheldByLedger reads o's own ledger entries for what the distribution
// withheld, and returns whether they say that o was withheld from u and
// the office has not taken u off it since: the submission, or a key
// rotation when a reader was removed, names u among those withheld, and
// no later removal names u.
func (s *Service) withheldByLedger(ctx context.Context, tx store.Tx, o *opened) (func(u *store.User) bool, error) {
	steps, err := s.readersSteps(ctx, tx, o)
	if err != nil {
		return nil, err
	}
	return func(u *store.User) bool {
		listed := false
		for _, d := range steps {
			if d.Revoked == u.Username {
				listed = false
			}
			if slices.Contains(d.Withheld, u.ID) {
				listed = true
			}
		}
		return listed
	}, nil
}

// grantedByLedger returns whether o's own ledger entries gave u the memo
// and none took it from u since: the submission's distribution named u,
// or the office added u. A memo submitted by a release whose submissions
// did not name their readers trusts its access rows for what the
// submission gave, as that release did. An entry whose detail does not
// open grants no one: what it said cannot be known; nor does a memo whose
// submission is not among its entries.
func grantedByLedger(steps []readersStep) func(u *store.User) bool {
	if slices.ContainsFunc(steps, func(d readersStep) bool { return d.unreadable }) ||
		!slices.ContainsFunc(steps, func(d readersStep) bool { return d.action == "memo.submit" }) {
		return func(*store.User) bool { return false }
	}
	named := slices.ContainsFunc(steps, func(d readersStep) bool { return d.action == "memo.submit" && d.To != nil })
	return func(u *store.User) bool {
		granted := !named
		for _, d := range steps {
			switch d.action {
			case "memo.submit":
				if d.To != nil && slices.Contains(*d.To, u.ID) {
					granted = true
				}
			case "memo.distribute":
				if slices.Contains(d.Added, u.Username) {
					granted = true
				}
			case "memo.revoke":
				if d.Revoked == u.Username {
					granted = false
				}
			}
		}
		return granted
	}
}

// WithheldReader is a principal a memo was withheld from.
type WithheldReader struct {
	Username    string `json:"username"`
	DisplayName string `json:"display_name"`
}

// WithheldReaders lists, for the channel office, the principals a memo
// was withheld from while their keys awaited the office's confirmation
// and that the confirmation will share it with (withheldByLedger), so that
// the office may take one off it first (RevokeReader).
//
// The office reads the memo's sealed ledger entries for it, so the look
// is recorded, as the office's other looks at a memo are
// (memo.withheld_list).
func (s *Service) WithheldReaders(ctx context.Context, a *Actor, memoID string) ([]WithheldReader, error) {
	var out []WithheldReader
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		out = []WithheldReader{}
		if err := requireOffice(o); err != nil {
			return err
		}
		ids, err := tx.WithheldOf(ctx, o.rec.ID)
		if err != nil {
			return err
		}
		if len(ids) > 0 {
			us, err := tx.UsersByIDs(ctx, ids)
			if err != nil {
				return err
			}
			listed, err := s.withheldByLedger(ctx, tx, o)
			if err != nil {
				return err
			}
			for _, u := range us {
				if listed(u) {
					out = append(out, WithheldReader{Username: u.Username, DisplayName: u.DisplayName})
				}
			}
		}
		return s.audit(ctx, tx, memberEvent("memo.withheld_list", a, o, channel.RoleOffice))
	})
	return out, err
}

// withheldReason is why the office shares a withheld memo, in the
// memo's list of readers.
const withheldReason = "Withheld until the channel office confirmed their new keys."

// shareWithheld wraps to u, whose keys a, a member of the office, has
// just confirmed, what was withheld from u while they awaited it
// (tx.WithheldFrom): memos submitted meanwhile that the standing
// distribution would have taken to u, and new key versions of memos u
// reads. a's office key opens them. Each is shared as the office shares a
// memo with a reader, by a and with the reason, in the memo's history.
// The list is the database's word, so a memo on it is shared only if it
// is delivered, its own ledger entries withheld it from u
// (withheldByLedger) and u does not read it yet; otherwise it is dropped
// from the list. As for a memo that reached u, taking u off the standing
// distribution meanwhile does not take it back: the office removes u from
// the memo (RevokeReader) if u should not read it.
func (s *Service) shareWithheld(ctx context.Context, tx store.Tx, a *Actor, u *store.User) error {
	ids, err := tx.WithheldFrom(ctx, u.ID)
	if err != nil || len(ids) == 0 {
		return err
	}
	for _, id := range ids {
		if err := tx.Unwithhold(ctx, u.ID, id); err != nil {
			return err
		}
		o, err := s.openMemo(ctx, tx, a, id, true)
		if errors.Is(err, channel.ErrNotFound) {
			continue
		} else if err != nil {
			return err
		}
		if st := channel.State(o.rec.State); !st.Delivered() || st == channel.Returned {
			continue
		}
		if listed, err := s.withheldByLedger(ctx, tx, o); err != nil {
			return err
		} else if !listed(u) {
			s.log.Warn("a memo listed as withheld from a principal is not one its ledger entries withheld: not shared; find who wrote the withheld row", "memo", id, "user", u.ID)
			continue
		}
		// An author among the principals is shared with like the others,
		// as the distribution does: skipping them would tell them apart.
		if _, err := tx.AccessFor(ctx, id, u.ID, o.rec.KeyVersion); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		reason, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, readerReasonField(u.ID, a.User.ID), reasonItem{Reason: withheldReason})
		if err != nil {
			return err
		}
		as, err := s.wraps(o, u.ID, u.BoxPublic, a.User.ID, reason, false)
		if err != nil {
			return err
		}
		if err := tx.PutAccess(ctx, as...); err != nil {
			return err
		}
		if err := s.noticeReaders(ctx, tx, o.rec, []*store.User{u}); err != nil {
			return err
		}
		o.rec.UpdatedAt = micros(s.now())
		ev := memberEvent("memo.distribute", a, o, channel.RoleOffice)
		ev.detail = map[string]any{"added": []string{u.Username}, "reason": withheldReason}
		if _, err := s.record(ctx, tx, ev); err != nil {
			return err
		}
		if err := s.updateMemo(ctx, tx, o.rec); err != nil {
			return err
		}
	}
	return nil
}
