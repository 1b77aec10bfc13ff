package service

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// The channel office's group key opens every memo, so whoever makes it
// must not be someone an administrator could be. Its first member's keys
// are made at their first sign-in, with the password an administrator
// gave them; an administrator who signed in first would make them, and a
// key founded to them would be the administrator's. So no sign-in founds
// the office: the recovery custodians do, at a ceremony (the CLI's
// `dissent office found`), with the first member in front of them, who
// signs in and reads them the fingerprint of their keys from their own
// account page. k custodians together can already open every account's
// keys and the office's, so trusting them with the founding adds no one;
// and the person, signing in for the first time in their sight, shows the
// fingerprint, so an administrator who made the keys before is found out
// there: the person cannot sign in with the password they were given, or
// is not asked to choose one, and the keys are older than the ceremony
// (ceremonyWindow).

// ceremonyWindow is how recently the member's keys must have been made
// for the custodians to found the office with them, or give them its key:
// the person signs in for the first time at the ceremony and chooses their
// own password there, in the custodians' sight. Keys made earlier could be
// an administrator's, made at a first sign-in with the password they gave
// the account, then handed over with a second password of their choosing.
const ceremonyWindow = time.Hour

// FoundOffice makes the channel office's group key and gives it to its
// first member, username, whose keys have fingerprint (as their account
// page shows it), once shares rebuild this deployment's recovery key. It
// returns when the member's keys were made, for the custodians to compare
// with the first sign-in they watched.
func (s *Service) FoundOffice(ctx context.Context, shares []vault.Share, username, fingerprint string) (keysMade time.Time, err error) {
	return s.ceremony(ctx, shares, username, fingerprint, func(tx store.Tx, _ *vault.Identity, box []byte, u *store.User) error {
		if box != nil {
			return channel.Errorf(channel.ECONFLICT, "the channel office is founded already: its members let new ones in (Office, Members); if none of them can, k custodians give its key to a member (dissent office grant)")
		}
		return s.foundOffice(ctx, tx, u)
	})
}

// GrantOfficeByCustodians gives the office's key, which the custodians
// open with their shares, to username, a member of the office whose keys
// have fingerprint: for an office none of whose members can let anyone in
// (the only ones forgot their passwords, or lost the office role). k
// custodians together can open the office's key anyway.
func (s *Service) GrantOfficeByCustodians(ctx context.Context, shares []vault.Share, username, fingerprint string) (keysMade time.Time, err error) {
	return s.ceremony(ctx, shares, username, fingerprint, func(tx store.Tx, recovery *vault.Identity, box []byte, u *store.User) error {
		if box == nil {
			return channel.Errorf(channel.ECONFLICT, "the channel office is not founded yet: found it (dissent office found)")
		}
		if _, err := tx.GroupKey(ctx, officeGroup, u.ID); err == nil {
			return channel.Errorf(channel.ECONFLICT, "%q holds the office's key already", username)
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		sealed, err := tx.Setting(ctx, settingOfficeRecovery)
		if err != nil {
			return storeErr(err, "the office's key sealed for the custodians")
		}
		office, err := recovery.RecoverIdentity(officeGroup, sealed)
		if err != nil || office.Public().Box != string(box) {
			s.tampered.Store(true)
			s.log.Error("the office's key sealed for the custodians is not the office's anchored key: refused; put office.public.recovery back from a backup")
			return errInternal("%w: %s: the key sealed for the custodians is not the office's", ErrNotAnchored, officeGroup)
		}
		wrapped, err := vault.SealTo(u.BoxPublic, office.Marshal())
		if err != nil {
			return err
		}
		if err := tx.PutGroupKey(ctx, &store.GroupKey{Group: officeGroup, UserID: u.ID, Wrapped: wrapped, GrantedBy: grantedByCustodians, GrantedAt: micros(s.now())}); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{action: actionCustodiansGrant, role: "system", subject: u.ID})
	})
}

// The ledger actions of the ceremonies, by the system, naming the member.
// A founding at a first sign-in, before December 2026, recorded an
// office.grant by the system: these tell a ceremony from it.
const (
	actionOfficeFound     = "office.found"
	actionCustodiansGrant = "office.custodians_grant"
)

// ceremony checks what the custodians bring to a ceremony — shares that
// rebuild the recovery key, a member of the office, not an administrator,
// whose keys have fingerprint and were made at the account's first
// sign-in within ceremonyWindow (madeAtTheCeremony) — and runs act in the same transaction, under the
// ledger's lock, so that two ceremonies take turns. box is the office's
// public key, proved anchored, or nil before the founding (which the
// ledger must not remember either).
func (s *Service) ceremony(ctx context.Context, shares []vault.Share, username, fingerprint string, act func(tx store.Tx, recovery *vault.Identity, box []byte, u *store.User) error) (keysMade time.Time, err error) {
	recovery, err := vault.JoinIdentity(shares)
	if err != nil {
		return keysMade, channel.Invalid("shares", "%s", err.Error())
	}
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		if _, err := tx.LedgerStorage("", "").LockedSize(ctx); err != nil {
			return err
		}
		if err := s.isRecoveryKey(ctx, tx, recovery); err != nil {
			return err
		}
		box, err := s.readOfficeBox(ctx, tx)
		if err != nil {
			return err
		}
		// The ledger remembers an office founded before, even if the
		// database forgot it: founding another would hand its key to
		// whoever came to the ceremony, and every memo after with it.
		if box == nil {
			if err := s.officeNeverFounded(ctx, tx); err != nil {
				return err
			}
		}
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return storeErr(err, "the account")
		}
		switch {
		case !slices.Contains(u.Roles, string(channel.RoleOffice)):
			return channel.Invalid("username", "%q is not a member of the channel office: an administrator gives them the office role first", username)
		case hasRole(u, channel.RoleAdmin):
			return channel.Invalid("username", "%q is an administrator, and administrators must never hold the office's key", username)
		case u.Disabled || u.KeyState != keysActive:
			return channel.Invalid("username", "%q cannot be given the office's key until %s", username, notActive(u))
		}
		if err := s.checkUserKeys(ctx, tx, u); err != nil {
			return err
		}
		if !sameFingerprint(fingerprint, keysFingerprint(u)) {
			return channel.Invalid("fingerprint", "that is not the fingerprint of the keys of %q: have them sign in and read it from their account page; if they cannot sign in with the password they were given, someone else signed in first and made the keys: disable the account and make another for them", username)
		}
		if keysMade, err = s.madeAtTheCeremony(ctx, tx, u); err != nil {
			return err
		}
		return act(tx, recovery, box, u)
	})
	return keysMade, err
}

// madeAtTheCeremony refuses u's keys unless the entry anchoring them is
// their making at the account's first sign-in (user.new_keys, the
// account's only anchor) within ceremonyWindow of now, and reports when
// that was (zero when it is not their making). Keys anchored otherwise
// were made by someone else, or before: at the account's creation by an
// earlier release (anchored at the upgrade, user.keys_anchored, or at the
// creation, user.create), or made again.
func (s *Service) madeAtTheCeremony(ctx context.Context, tx store.Tx, u *store.User) (made time.Time, err error) {
	l, _, problem, err := s.checkpointedEntry(ctx, tx, u.KeysAnchor)
	if err != nil {
		return made, err
	}
	if problem != "" {
		return made, errInternal("%w: %s: %s", ErrNotAnchored, u.ID, problem)
	}
	again, err := s.anchoredAgain(ctx, tx, u.ID, keysHash(u.ID, u.Username, u.BoxPublic, u.SignPublic), u.KeysAnchor)
	if err != nil {
		return made, err
	}
	const newAccount = "make a new account for the person at the ceremony and have them sign in there for the first time, in your sight"
	switch {
	case again:
		return made, channel.Invalid("username", "the keys of %q were made again, after the account's first (%s): %s", u.Username, l.Action, newAccount)
	case l.Action != actionNewKeys:
		return made, channel.Invalid("username", "the keys of %q were not made at the account's first sign-in (%s): %s", u.Username, l.Action, newAccount)
	}
	made = l.Time
	switch age := s.now().Sub(made); {
	case age > ceremonyWindow:
		return made, channel.Invalid("username", "the keys of %q were made %s ago, before the ceremony: whoever made them then could have handed the account over with a password of their own; %s", u.Username, age.Round(time.Minute), newAccount)
	case age < -clockSkew:
		return made, channel.Invalid("username", "the keys of %q are dated %s from now, in the future: check the servers' clocks; %s", u.Username, (-age).Round(time.Minute), newAccount)
	}
	return made, nil
}

// actionNewKeys anchors the keys an account makes at its first sign-in.
const actionNewKeys = "user.new_keys"

// clockSkew is how far ahead of this node's clock another node's may run.
const clockSkew = 5 * time.Minute

// foundOffice makes the office's group key, wraps it to its first member u
// and to the recovery key, anchors its public key and signs a checkpoint
// over the anchor. u's keys must be anchored in a checkpoint already.
func (s *Service) foundOffice(ctx context.Context, tx store.Tx, u *store.User) error {
	office, err := vault.NewIdentity()
	if err != nil {
		return err
	}
	recoveryBox, err := s.recoveryBox(ctx, tx)
	if err != nil {
		return err
	}
	forRecovery, err := vault.SealIdentityTo(recoveryBox, officeGroup, office)
	if err != nil {
		return err
	}
	if err := tx.PutSetting(ctx, settingOffice, []byte(office.Public().Box)); err != nil {
		return err
	}
	if err := s.anchorOffice(ctx, tx, office.Public().Box); err != nil {
		return err
	}
	if err := tx.PutSetting(ctx, settingOfficeRecovery, forRecovery); err != nil {
		return err
	}
	wrapped, err := vault.SealTo(u.BoxPublic, office.Marshal())
	if err != nil {
		return err
	}
	if err := tx.PutGroupKey(ctx, &store.GroupKey{Group: officeGroup, UserID: u.ID, Wrapped: wrapped, GrantedBy: grantedAtFounding, GrantedAt: micros(s.now())}); err != nil {
		return err
	}
	if err := s.audit(ctx, tx, event{action: actionOfficeFound, role: "system", subject: u.ID}); err != nil {
		return err
	}
	_, err = s.checkpoint(ctx, tx)
	return err
}

// officeUnfounded says what is missing before the office is founded.
const officeUnfounded = "the channel office is not founded yet: k of the recovery custodians found it with its first member, who signs in for the first time at their ceremony, chooses their own password and reads them the fingerprint on their account page (dissent office found)"

// The granters of office keys given at a ceremony: the founder's, and
// those the custodians give.
const (
	grantedAtFounding   = "founding"
	grantedByCustodians = "custodians"
)

// officeNeverFounded fails, as tampering, if the ledger anchors an office
// key: the office was founded, and its key is gone from the database.
func (s *Service) officeNeverFounded(ctx context.Context, tx store.Tx) error {
	_, cp, problem, err := s.ownLatest(ctx, tx)
	if err != nil {
		return err
	}
	if problem == "" {
		var seen seenAnchors
		if seen, problem, err = s.anchorsOf(ctx, tx, officeGroup, cp); err != nil {
			return err
		}
		// Only entries in this transaction's view of the ledger count:
		// the node's follower may know of a founding committed since.
		seen.entries = slices.DeleteFunc(seen.entries, func(e int64) bool { return e >= seen.size })
		if problem == "" && len(seen.entries) > 0 {
			// Nor is a founding that committed after this transaction
			// read the settings: PostgreSQL reads each statement afresh.
			if _, err := tx.Setting(ctx, settingOffice); err == nil {
				return nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return err
			}
			problem = fmt.Sprintf("the office was founded (entry %d), but its key is gone from the database", seen.entries[0])
		}
	}
	if problem == "" {
		return nil
	}
	s.tampered.Store(true)
	s.log.Error("the channel office would be founded again: refused; put the office's settings back from a backup", "problem", problem)
	return errInternal("%w: %s: %s", ErrNotAnchored, officeGroup, problem)
}

// officeFounded reports whether the office's key has been made. A key the
// ledger anchors but the database lost is refused as tampering, not
// reported as an office still to found.
func (s *Service) officeFounded(ctx context.Context, tx store.Tx) (bool, error) {
	_, err := tx.Setting(ctx, settingOffice)
	if err == nil {
		return true, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return false, err
	}
	return false, s.officeNeverFounded(ctx, tx)
}
