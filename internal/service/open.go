package service

import (
	"context"
	"errors"
	"slices"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// relation is how the actor stands to a memo; it decides what they may see
// and do. It is worked out here, from keys the actor can actually unwrap,
// and nowhere else.
type relation int

const (
	relNone relation = iota
	relAuthor
	relOffice
	relReader // a principal on the distribution or an added reader
)

// opened is a memo the actor is entitled to, with its keys and roster.
type opened struct {
	rec    *store.Memo
	keys   memoKeys
	roster channel.Roster
	rel    relation
	author *channel.Author // the actor's roster entry when rel == relAuthor
	pre    *precomputed    // crypto done before the transaction, if any
}

func (o *opened) content(ctx context.Context, tx store.Tx, rev int) (channel.Content, []byte, error) {
	r, err := tx.Revision(ctx, o.rec.ID, rev)
	if err != nil {
		return channel.Content{}, nil, err
	}
	var c channel.Content
	err = openJSON(o.keys, r.KeyVersion, o.rec.ID, "revision", r.Sealed, &c)
	return c, r.ContentHash, err
}

func (o *opened) sealRoster() error {
	b, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, "roster", o.roster)
	o.rec.Roster = b
	return err
}

// openMemo finds the actor's way into a memo. Anyone without one gets
// channel.ErrNotFound, the same answer as for a memo that does not exist;
// the same lookups run in both cases so timing tells little either.
// In a write transaction, the actor's mailbox is collected first when the
// memo is not in their index yet (a new invitation).
func (s *Service) openMemo(ctx context.Context, tx store.Tx, a *Actor, memoID string, write bool) (*opened, error) {
	if !validID(memoID) {
		return nil, channel.ErrNotFound
	}
	rec, err := tx.MemoByID(ctx, memoID)
	missing := errors.Is(err, store.ErrNotFound)
	if missing {
		// Go on with a stand-in, so that a memo that does not exist costs
		// the same lookups as one the actor may not see.
		rec = &store.Memo{ID: memoID, KeyVersion: 1, SubmittedAt: 1}
	} else if err != nil {
		return nil, err
	}
	return s.openRecord(ctx, tx, a, rec, missing, write)
}

// openRecord is openMemo on a memo row already read in tx (missing: a
// stand-in for one that does not exist).
func (s *Service) openRecord(ctx context.Context, tx store.Tx, a *Actor, rec *store.Memo, missing, write bool) (*opened, error) {
	memoID := rec.ID
	var indexKeys memoKeys
	var indexErr error = store.ErrNotFound
	if a.id != nil {
		indexKeys, indexErr = readIndex(ctx, tx, a.id, memoID)
		if indexErr != nil && !errors.Is(indexErr, store.ErrNotFound) {
			return nil, indexErr
		}
	}
	// A new invitation, or a key rotation, waits in the mailbox. Only
	// members can be authors, so only they have mail to collect.
	if _, current := indexKeys[rec.KeyVersion]; !missing && a.id != nil && write && !current && a.Has(channel.RoleMember) {
		if _, err := s.collectMail(ctx, tx, a); err != nil {
			return nil, err
		}
		// Look again even if this call collected nothing: a request of the
		// same person running alongside may just have moved the entry in.
		if indexKeys, indexErr = readIndex(ctx, tx, a.id, memoID); indexErr != nil && !errors.Is(indexErr, store.ErrNotFound) {
			return nil, indexErr
		}
	}
	o := &opened{rec: rec}
	if indexErr == nil && !missing {
		o.keys = indexKeys
		if err := openJSON(o.keys, rec.KeyVersion, rec.ID, "roster", rec.Roster, &o.roster); err != nil {
			// Keys of an older version only: a rotation the author has
			// not collected yet. Fall through to the other ways in.
			o.keys = nil
		} else if i := o.roster.Find(a.User.ID); i >= 0 {
			o.rel, o.author = relAuthor, &o.roster.Authors[i]
			return o, nil
		}
	}
	if rec.SubmittedAt > 0 && a.Has(channel.RoleOffice) {
		if office, err := s.officeIdentity(ctx, tx, a); err == nil {
			if keys, err := s.unwrapAccess(ctx, tx, a, rec, officeGroup, office); err == nil {
				o.keys, o.rel = keys, relOffice
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
	}
	if o.rel == relNone && a.id != nil {
		if keys, err := s.unwrapAccess(ctx, tx, a, rec, a.User.ID, a.id); err == nil {
			o.keys, o.rel = keys, relReader
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if o.rel == relNone || missing {
		return nil, channel.ErrNotFound
	}
	if err := openJSON(o.keys, rec.KeyVersion, rec.ID, "roster", rec.Roster, &o.roster); err != nil {
		return nil, err
	}
	return o, nil
}

// unwrapAccess unwraps every key version wrapped to grantee, with id, for a.
func (s *Service) unwrapAccess(ctx context.Context, tx store.Tx, a *Actor, rec *store.Memo, grantee string, id *vault.Identity) (memoKeys, error) {
	cur, err := tx.AccessFor(ctx, rec.ID, grantee, rec.KeyVersion)
	if err != nil {
		return nil, err
	}
	keys := memoKeys{}
	k, err := s.keys.unwrap(a.sessionID, id, cur.Wrapped, time.Now())
	if err != nil {
		return nil, errInternal("access wrap does not open: %w", err)
	}
	keys[rec.KeyVersion] = k
	if rec.KeyVersion > 1 {
		all, err := tx.AccessList(ctx, rec.ID)
		if err != nil {
			return nil, err
		}
		for _, acc := range all {
			if acc.Grantee == grantee && acc.KeyVersion != rec.KeyVersion {
				if k, err := s.keys.unwrap(a.sessionID, id, acc.Wrapped, time.Now()); err == nil {
					keys[acc.KeyVersion] = k
				}
			}
		}
	}
	return keys, nil
}

// requireAuthor checks that the actor is an author, and a drafter if
// drafter is set. Non-authors who can see the memo get 403: they know it
// exists, but may not do this.
func requireAuthor(o *opened, drafter bool) error {
	if o.rel != relAuthor {
		return channel.Errorf(channel.EFORBIDDEN, "only the memo's authors may do this")
	}
	if drafter && o.author.Kind != channel.KindDrafter {
		return channel.Errorf(channel.EFORBIDDEN, "only the memo's drafters may do this")
	}
	return nil
}

func requireOffice(o *opened) error {
	if o.rel != relOffice {
		return channel.Errorf(channel.EFORBIDDEN, "only the channel office may do this")
	}
	return nil
}

// mayFile reports whether a may draft, sign or be invited: a member, with
// working keys, and eligible where the profile asks for it.
func (s *Service) mayFile(u *store.User) error {
	if !slices.Contains(u.Roles, string(channel.RoleMember)) {
		return channel.Errorf(channel.EFORBIDDEN, "%q is not a member of the channel", u.Username)
	}
	if s.cfg.Profile.EligibleOnly && !u.Eligible {
		return channel.Errorf(channel.EFORBIDDEN, "%q is not eligible to file or sign under this channel's rules", u.Username)
	}
	if u.Disabled || u.KeyState != keysActive {
		return channel.Errorf(channel.EFORBIDDEN, "%q cannot take part until their account is active", u.Username)
	}
	return nil
}
