package service

import (
	"context"
	"errors"
	"fmt"
	"slices"

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
// and the person, not whoever signed in to their account first, shows the
// fingerprint, so an administrator who made the keys is found out there:
// the person cannot sign in with the password they were given.

// FoundOffice makes the channel office's group key and gives it to its
// first member, username, whose keys have fingerprint (as their account
// page shows it), once shares rebuild this deployment's recovery key.
func (s *Service) FoundOffice(ctx context.Context, shares []vault.Share, username, fingerprint string) error {
	recovery, err := vault.JoinIdentity(shares)
	if err != nil {
		return channel.Invalid("shares", "%s", err.Error())
	}
	return s.inTx(ctx, true, func(tx store.Tx) error {
		box, err := s.recoveryBox(ctx, tx)
		if err != nil {
			return err
		}
		if box != recovery.Public().Box {
			return channel.Invalid("shares", "these shares rebuild a key that is not this deployment's recovery key")
		}
		if founded, err := officeFounded(ctx, tx); err != nil {
			return err
		} else if founded {
			return channel.Errorf(channel.ECONFLICT, "the channel office is founded already: its members let new ones in (Office, Members)")
		}
		// The ledger remembers an office founded before, even if the
		// database forgot it: founding another would hand its key to
		// whoever came to the ceremony, and every memo after with it.
		if err := s.officeNeverFounded(ctx, tx); err != nil {
			return err
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
			return channel.Invalid("username", "%q cannot found the office until %s", username, notActive(u))
		}
		if err := s.checkUserKeys(ctx, tx, u); err != nil {
			return err
		}
		if !sameFingerprint(fingerprint, keysFingerprint(u)) {
			return channel.Invalid("fingerprint", "that is not the fingerprint of the keys of %q: have them sign in and read it from their account page; if they cannot sign in with the password they were given, someone else signed in first and made the keys: disable the account and make another for them", username)
		}
		// Keys made again wait for a member of the office to confirm
		// them, and there is none yet.
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return err
		} else if held {
			return channel.Invalid("username", "the keys of %q were made again and wait for the office's confirmation, which no one can give before the office is founded: found it with another member, who then confirms them", username)
		}
		return s.foundOffice(ctx, tx, u)
	})
}

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
	if err := tx.PutSetting(ctx, settingOffice+".recovery", forRecovery); err != nil {
		return err
	}
	wrapped, err := vault.SealTo(u.BoxPublic, office.Marshal())
	if err != nil {
		return err
	}
	if err := tx.PutGroupKey(ctx, &store.GroupKey{Group: officeGroup, UserID: u.ID, Wrapped: wrapped, GrantedBy: grantedAtFounding, GrantedAt: micros(s.now())}); err != nil {
		return err
	}
	if err := s.audit(ctx, tx, event{action: "office.grant", role: "system", subject: u.ID}); err != nil {
		return err
	}
	_, err = s.checkpoint(ctx, tx)
	return err
}

// officeUnfounded says what is missing before the office is founded.
const officeUnfounded = "the channel office is not founded yet: an administrator creates its first member, who signs in and chooses their own password, and k of the recovery custodians found the office with that member, who reads them the fingerprint on their account page (dissent office found)"

// grantedAtFounding is the granter of the founder's office key.
const grantedAtFounding = "founding"

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
		if problem == "" && len(seen.entries) > 0 {
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

// officeFounded reports whether the office's key has been made.
func officeFounded(ctx context.Context, tx store.Tx) (bool, error) {
	_, err := tx.Setting(ctx, settingOffice)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}
