package service

import (
	"bytes"
	"context"
	"errors"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// ChangePassword re-wraps the actor's keys under a new password and ends
// every other session. An account an administrator made has no keys yet
// (keysPending): they are made now, under the user's own password. No
// sign-in founds the channel office: the custodians do (FoundOffice).
func (s *Service) ChangePassword(ctx context.Context, a *Actor, current, next string) error {
	_, err := s.ChangePasswordFrom(ctx, a, current, next)
	return err
}

// ChangePasswordFrom is ChangePassword from a device, which it returns a
// device token for (SignInFrom), as a sign-in would: the change ends the
// account's device tokens with its sessions, and the device that made it,
// having shown the password, is not a new one, whose sign-in would count
// against its address.
func (s *Service) ChangePasswordFrom(ctx context.Context, a *Actor, current, next string) (device string, err error) {
	if err := channel.ValidatePassword("new_password", next); err != nil {
		return "", err
	}
	kek, err := s.checkCurrentPassword(ctx, a, current)
	if err != nil {
		return "", err
	}
	stored, newKEK, err := s.hashPassword(ctx, next)
	if err != nil {
		return "", err
	}
	var changed *store.User
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		u, err := tx.UserByID(ctx, a.User.ID)
		changed = u
		if err != nil {
			return err
		}
		if u.Password != a.User.Password || u.KeyState != a.User.KeyState {
			// Another request changed it since this one checked the
			// password (a form sent twice).
			return channel.Errorf(channel.ECONFLICT, "your account changed meanwhile: sign in again")
		}
		made := false
		switch u.KeyState {
		case keysActive:
			id, err := vault.OpenIdentity(kek, u.ID, u.KeysSealed)
			if err != nil {
				return errInternal("open identity for a password change: %w", err)
			}
			u.KeysSealed = vault.SealIdentity(newKEK, u.ID, id)
		case keysPending:
			if current == next {
				return channel.Invalid("new_password", "choose a password of your own, not the one you were given")
			}
			recoveryBox, err := s.recoveryBox(ctx, tx)
			if err != nil {
				return err
			}
			if _, err := makeKeys(u, newKEK, recoveryBox); err != nil {
				return err
			}
			made = true
		}
		u.Password = stored
		u.SessionEpoch++
		if err := s.audit(ctx, tx, event{action: "user.password", actor: a}); err != nil {
			return err
		}
		if made {
			// An account the ledger has anchored keys for before is not
			// making its first, whatever its row says: they wait for the
			// office like any keys made again (keysconfirm.go).
			if u.KeysAnchor >= 0 || len(s.anchors.knownOf(u.ID)) > 0 {
				if err := s.awaitConfirmation(ctx, tx, u); err != nil {
					return err
				}
			}
			if err := s.anchorUser(ctx, tx, u, event{action: actionNewKeys, actor: a}); err != nil {
				return err
			}
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return storeErr(err, "your account")
		}
		if !made {
			return nil
		}
		// The person is told, in the app and by e-mail, that their keys
		// were made now. An administrator who signs in first with the
		// password they gave, and hands over a second password of their
		// own, holds the keys; the person then gets this without having
		// chosen a password, and knows.
		if err := s.accountNotice(ctx, tx, u, KindKeysMade, u.Email); err != nil {
			return err
		}
		_, err = s.checkpoint(ctx, tx)
		return err
	})
	if err != nil {
		return "", err
	}
	return s.newDevice(changed), nil
}

// checkCurrentPassword checks the password a signed-in user gives to
// change it, counted with the account's failed sign-ins: a session's
// holder (a token left behind, or taken) must not guess the password that
// outlasts it faster than the sign-in page allows.
func (s *Service) checkCurrentPassword(ctx context.Context, a *Actor, current string) (vault.Key, error) {
	if wait, failed := s.limiter.take(a.User.Username, s.Now()); wait > 0 {
		if failed {
			return vault.Key{}, channel.RateLimited(wait, "too many wrong passwords")
		}
		return vault.Key{}, channel.RateLimited(wait, "too many password checks at once")
	}
	kek, ok, err := s.checkPassword(ctx, a.User, current)
	switch {
	case err != nil:
		s.limiter.settle(a.User.Username)
		return vault.Key{}, err
	case !ok:
		s.limiter.fail(a.User.Username, s.Now())
		// A wrong guess at the password is a failed sign-in, whether it
		// came at the sign-in page or from a session someone holds: it
		// is counted in the ledger with the others (session.fail).
		// It answers errBadCredentials, joined with the ledger's error
		// if the count could not be written now: then it is written with
		// the next entry, as a sign-in's is.
		_ = s.recordFailedSignIn(ctx)
		return vault.Key{}, channel.Invalid("current_password", "the current password is wrong")
	}
	s.limiter.reset(a.User.Username)
	return kek, nil
}

// ResetPassword sets a new password for someone who lost theirs
// (administrators). The administrator cannot unwrap the user's keys: they
// stay locked until k recovery custodians restore them (RecoverKeys) or the
// user starts afresh (NewKeys), losing access to earlier memos.
func (s *Service) ResetPassword(ctx context.Context, a *Actor, username, password string) error {
	if !a.Has(channel.RoleAdmin) {
		return channel.Errorf(channel.EFORBIDDEN, "only an administrator may reset passwords")
	}
	if err := channel.ValidatePassword("password", password); err != nil {
		return err
	}
	stored, _, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	return s.inTx(ctx, true, func(tx store.Tx) error {
		if err := lockLedger(ctx, tx); err != nil {
			return err
		}
		if err := bumpAccounts(ctx, tx); err != nil {
			return err
		}
		u, err := tx.UserByUsername(ctx, username)
		if err != nil {
			return storeErr(err, "the account")
		}
		u.Password = stored
		if u.KeyState != keysPending { // an account without keys keeps waiting for its user's password
			u.KeyState = keysReset
		}
		u.SessionEpoch++
		if err := tx.UpdateUser(ctx, u); err != nil {
			return storeErr(err, "the account")
		}
		if err := s.accountNotice(ctx, tx, u, KindPasswordReset, u.Email); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{action: "user.password_reset", actor: a, role: string(channel.RoleAdmin), subject: u.ID})
	})
}

// accountNotice tells u of a change to their account: in the app, and by
// e-mail to email (the old address when the address changed) when the
// deployment sends e-mail.
func (s *Service) accountNotice(ctx context.Context, tx store.Tx, u *store.User, kind, email string) error {
	n := &store.Notification{ID: newID(), UserID: u.ID, Kind: kind, CreatedAt: micros(s.now()), EmailState: "none"}
	if s.reminders().Email && email != "" {
		n.Email, n.EmailState, n.NextTry = email, "pending", n.CreatedAt
	}
	return tx.AddNotification(ctx, n)
}

// NewKeys gives a user whose keys are locked a fresh key pair under next,
// a new password of their own that replaces current, the one the
// administrator set at the reset: keys are never sealed under a password an
// administrator chose. Memos shared with the old keys stay unreadable to
// them until someone entitled shares them again.
func (s *Service) NewKeys(ctx context.Context, a *Actor, current, next string) error {
	_, err := s.NewKeysFrom(ctx, a, current, next)
	return err
}

// NewKeysFrom is NewKeys from a device, which it returns a device token
// for, as ChangePasswordFrom does.
func (s *Service) NewKeysFrom(ctx context.Context, a *Actor, current, next string) (device string, err error) {
	if a.User.KeyState == keysPending {
		return "", errKeysPending
	}
	if a.User.KeyState != keysReset {
		return "", channel.Errorf(channel.ECONFLICT, "your keys are not locked")
	}
	if err := channel.ValidatePassword("new_password", next); err != nil {
		return "", err
	}
	if current == next {
		return "", channel.Invalid("new_password", "choose a password of your own, not the one the administrator set")
	}
	if _, err := s.checkCurrentPassword(ctx, a, current); err != nil {
		return "", err
	}
	stored, kek, err := s.hashPassword(ctx, next)
	if err != nil {
		return "", err
	}
	var changed *store.User
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		if err := lockLedger(ctx, tx); err != nil {
			return err
		}
		if err := bumpAccounts(ctx, tx); err != nil {
			return err
		}
		recoveryBox, err := s.recoveryBox(ctx, tx)
		if err != nil {
			return err
		}
		u, err := tx.UserByID(ctx, a.User.ID)
		changed = u
		if err != nil {
			return err
		}
		if u.Password != a.User.Password || u.KeyState != keysReset {
			return channel.Errorf(channel.ECONFLICT, "your account changed meanwhile: sign in again")
		}
		if _, err := makeKeys(u, kek, recoveryBox); err != nil {
			return err
		}
		u.Password = stored
		u.SessionEpoch++
		// Keys made afresh after a reset could be an administrator's
		// (keysconfirm.go): others wrap to them once the office confirms.
		if err := s.awaitConfirmation(ctx, tx, u); err != nil {
			return err
		}
		if err := s.anchorUser(ctx, tx, u, event{action: "user.keys_afresh", actor: a}); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, u); err != nil {
			return storeErr(err, "your account")
		}
		// What was wrapped to the keys before opens for no one now: the
		// office's key and the memos shared with the account as a reader.
		// Once the office has confirmed the new keys, a member of the
		// office lets the account in again, and the office or the
		// distribution shares memos with it again.
		if err := tx.DeleteGroupKey(ctx, officeGroup, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if err := tx.DeleteAccessOf(ctx, u.ID); err != nil {
			return err
		}
		if err := s.accountNotice(ctx, tx, u, KindNewKeys, u.Email); err != nil {
			return err
		}
		_, err = s.checkpoint(ctx, tx)
		return err
	})
	if err != nil {
		return "", err
	}
	return s.newDevice(changed), nil
}

// RecoverKeys restores a locked user's keys with the recovery key that k
// custodians rebuilt from their shares (the CLI's `dissent recovery
// restore`), sealing them under password, a new one the user types at the
// ceremony. It also becomes their password: the one the administrator set
// at the reset, which the administrator knows, never protects the keys, so
// that a copy of the database and that password open nothing. The act is
// audited and the user is told in the app.
func (s *Service) RecoverKeys(ctx context.Context, shares []vault.Share, username, password string) error {
	if err := channel.ValidatePassword("password", password); err != nil {
		return err
	}
	recovery, err := vault.JoinIdentity(shares)
	if err != nil {
		return channel.Invalid("shares", "%s", err.Error())
	}
	var u *store.User
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		if err := s.isRecoveryKey(ctx, tx, recovery); err != nil {
			return err
		}
		u, err = tx.UserByUsername(ctx, username)
		return storeErr(err, "the account")
	})
	if err != nil {
		return err
	}
	switch u.KeyState {
	case keysReset:
	case keysPending:
		return channel.Errorf(channel.ECONFLICT, "%q has no keys yet: they are made when the user chooses their own password", username)
	default:
		return channel.Errorf(channel.ECONFLICT, "%q has working keys: nothing to recover", username)
	}
	if _, ok, err := s.checkPassword(ctx, u, password); err != nil {
		return err
	} else if ok {
		return channel.Invalid("password", "that is the password the administrator set: %s must choose a new one of their own", username)
	}
	stored, kek, err := s.hashPassword(ctx, password)
	if err != nil {
		return err
	}
	id, err := recovery.RecoverIdentity(u.ID, u.KeysRecovery)
	if err != nil {
		return errInternal("recover identity of %q: %w", u.ID, err)
	}
	return s.inTx(ctx, true, func(tx store.Tx) error {
		fresh, err := tx.UserByID(ctx, u.ID)
		if err != nil {
			return err
		}
		if fresh.Password != u.Password || fresh.KeyState != keysReset {
			return channel.Errorf(channel.ECONFLICT, "the account of %q changed meanwhile: start again", username)
		}
		// The identity sealed for recovery must be the one the ledger
		// anchors for this account: anyone can seal an identity of their
		// own to the recovery key's public half and put it in the row,
		// and the ceremony would then hand it over as the user's keys.
		if err := s.checkUserKeys(ctx, tx, fresh); err != nil {
			return err
		}
		if id.Public().Box != fresh.BoxPublic || !bytes.Equal(id.Public().Sign, fresh.SignPublic) {
			s.tampered.Store(true)
			s.log.Error("the identity sealed for recovery is not the account's anchored keys: refused; find who changed keys_recovery", "user", u.ID)
			return errInternal("%w: %s: the identity sealed for recovery is not the account's", ErrNotAnchored, u.ID)
		}
		fresh.Password, fresh.KeysSealed, fresh.KeyState = stored, vault.SealIdentity(kek, u.ID, id), keysActive
		fresh.SessionEpoch++
		if err := s.awaitConfirmation(ctx, tx, fresh); err != nil {
			return err
		}
		if err := s.anchorUser(ctx, tx, fresh, event{action: "user.keys_recovered", role: "system", subject: u.ID}); err != nil {
			return err
		}
		if err := tx.UpdateUser(ctx, fresh); err != nil {
			return storeErr(err, "the account")
		}
		if err := s.accountNotice(ctx, tx, fresh, KindKeysRecovered, fresh.Email); err != nil {
			return err
		}
		_, err = s.checkpoint(ctx, tx)
		return err
	})
}
