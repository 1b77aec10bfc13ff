package service

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// MemoInput is a new memo.
type MemoInput struct {
	Title      string   `json:"title"`
	Body       string   `json:"body"`
	Marking    string   `json:"marking"`
	Codrafters []string `json:"codrafters"`
	// Anonymous files a report whose author the office and the readers
	// do not learn (anonymous.go): profiles that allow it only, one author.
	Anonymous bool `json:"anonymous"`
}

// EditInput is a new revision of a memo.
type EditInput struct {
	Title            string `json:"title"`
	Body             string `json:"body"`
	Marking          string `json:"marking"`
	ExpectedRevision int    `json:"expected_revision"`
}

func (s *Service) validateContent(c channel.Content) error {
	return channel.ValidateContent(c, s.cfg.Profile.Markings, s.cfg.MaxBody)
}

func newNonce() []byte {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return b
}

// memoRetries bounds how often a write transaction runs again after
// losing a race (retry).
const memoRetries = 16

// memoTx runs fn on a memo the actor may open, in one write transaction.
// A transaction that lost a race for the memo (its optimistic version
// moved: PostgreSQL lets writers overlap) runs again from the start, so
// that people acting on one memo at once queue rather than see a conflict;
// fn checks state and revision afresh, and refuses what no longer applies.
func (s *Service) memoTx(ctx context.Context, a *Actor, memoID string, fn func(tx store.Tx, o *opened) error) error {
	return s.memoTxAhead(ctx, a, memoID, store.Ahead{}, fn)
}

// memoTxAhead is memoTx for an fn that will also make the reads more
// names before its first write: they go to the store (tx.ReadAhead) with
// the memo's and the actor's author-index entry, which opening the memo
// reads.
func (s *Service) memoTxAhead(ctx context.Context, a *Actor, memoID string, more store.Ahead, fn func(tx store.Tx, o *opened) error) error {
	ahead := more
	if channel.ValidID(memoID) {
		ahead.Memo = memoID
		if a.id != nil {
			ahead.Owners, ahead.Entry = indexTags(a.id, memoID)
		}
	}
	return s.withMail(ctx, a, func(ctx context.Context) error {
		return s.retry(ctx, func(tx store.Tx) error {
			if err := tx.ReadAhead(ctx, ahead); err != nil {
				return err
			}
			o, err := s.openMemo(ctx, tx, a, memoID, true)
			if err != nil {
				return err
			}
			return fn(tx, o)
		})
	})
}

// retry runs fn in a write transaction, and again, up to memoRetries
// times in all, while it loses a race to another writer (store.Retryable:
// a version changed meanwhile, or PostgreSQL ended it for a deadlock).
func (s *Service) retry(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.retryIn(ctx, true, fn)
}

// readRetry is retry for a read transaction, which loses a race when a
// memo changed between its row and its ledger (rowStill). fn must start
// afresh each time.
func (s *Service) readRetry(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.retryIn(ctx, false, fn)
}

func (s *Service) retryIn(ctx context.Context, write bool, fn func(tx store.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, write, fn)
		if !store.Retryable(err) || attempt == memoRetries || ctx.Err() != nil {
			return err
		}
	}
}

// authorEvent is an event by the actor as an author of o.
func authorEvent(action string, a *Actor, o *opened) event {
	return event{action: action, actor: a, author: true, anonymous: o.anonymousAuthor(), nonce: o.author.Nonce, memo: o.rec.ID, keys: o.keys, keyVersion: o.rec.KeyVersion}
}

// memberEvent is an event by an office member or reader of o.
func memberEvent(action string, a *Actor, o *opened, role channel.Role) event {
	return event{action: action, actor: a, role: string(role), memo: o.rec.ID, keys: o.keys, keyVersion: o.rec.KeyVersion}
}

// CreateMemo starts a draft. The caller and the co-drafters are its drafters.
func (s *Service) CreateMemo(ctx context.Context, a *Actor, in MemoInput) (*Memo, error) {
	if err := s.mayFile(a.User); err != nil {
		return nil, err
	}
	c := channel.Content{Title: in.Title, Body: in.Body, Marking: in.Marking}
	if err := s.validateContent(c); err != nil {
		return nil, err
	}
	if err := channel.ValidateUsernames("codrafters", in.Codrafters, true); err != nil {
		return nil, err
	}
	if slices.Contains(in.Codrafters, a.User.Username) {
		return nil, channel.Invalid("codrafters", "you are a drafter already")
	}
	if in.Anonymous && !s.cfg.Profile.Anonymous {
		return nil, channel.Invalid("anonymous", "this channel's policy (%s) does not take anonymous reports", s.cfg.Profile.Name)
	}
	if in.Anonymous && len(in.Codrafters) > 0 {
		return nil, errOneAuthor("codrafters")
	}
	key, err := vault.NewKey()
	if err != nil {
		return nil, err
	}
	now := s.now()
	o := &opened{
		rec:  &store.Memo{ID: newID(), State: string(channel.Draft), Profile: s.cfg.Profile.Name, Revision: 1, KeyVersion: 1, CreatedAt: micros(now), UpdatedAt: micros(now)},
		keys: memoKeys{1: key},
		rel:  relAuthor,
	}
	o.roster.Authors = []channel.Author{{UserID: a.User.ID, Username: a.User.Username, DisplayName: a.User.DisplayName, Kind: channel.KindDrafter, Nonce: newNonce()}}
	o.author = &o.roster.Authors[0]
	var authors *vault.Identity
	if in.Anonymous {
		if authors, err = newAnonymous(o); err != nil {
			return nil, err
		}
	}
	var out *Memo
	err = s.inIndexTx(ctx, func(tx store.Tx) error {
		if len(in.Codrafters) > 0 {
			if err := s.requireConfirmedKeys(ctx, tx, a, "ask colleagues to co-draft"); err != nil {
				return err
			}
		}
		codrafters, err := s.participants(ctx, tx, "codrafters", in.Codrafters)
		if err != nil {
			return err
		}
		for _, u := range codrafters {
			o.roster.Authors = append(o.roster.Authors, channel.Author{UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Kind: channel.KindDrafter, Nonce: newNonce()})
		}
		o.author = &o.roster.Authors[0]
		if err := o.sealRoster(); err != nil {
			return err
		}
		if err := tx.CreateMemo(ctx, o.rec); err != nil {
			return err
		}
		hash, err := s.putRevision(ctx, tx, o, c, now)
		if err != nil {
			return err
		}
		if err := s.putIndexEntry(ctx, tx, a.id, o.rec.ID, o.keys, authors); err != nil {
			return err
		}
		for _, u := range codrafters {
			if err := s.postMail(ctx, tx, u, o.rec.ID, o.keys); err != nil {
				return err
			}
		}
		ev := authorEvent("memo.create", a, o)
		ev.content, ev.revision = hash, 1
		if _, err := s.record(ctx, tx, ev); err != nil {
			return err
		}
		if err := s.accountsUnchanged(ctx, tx, codrafters); err != nil {
			return err
		}
		out, err = s.view(ctx, tx, a, o, false)
		return err
	})
	return out, err
}

// participants loads people named to draft or sign, each of whom must be
// allowed to file, with keys the ledger anchors and, if made again, the
// office confirmed. Why one may not is the administrator's to know (roles,
// eligibility, a disabled account, a password reset) and theirs: a member
// naming colleagues gets one answer for all, so that asking name after
// name reveals nothing the directory does not show.
func (s *Service) participants(ctx context.Context, tx store.Tx, field string, names []string) ([]*store.User, error) {
	us, err := tx.UsersByUsernames(ctx, names)
	if errors.Is(err, store.ErrNotFound) {
		return nil, channel.Invalid(field, "every name must be an existing user")
	} else if err != nil {
		return nil, err
	}
	refused := func(u *store.User) error {
		return channel.Invalid(field, "%q cannot be asked to draft or sign at present", u.Username)
	}
	for _, u := range us {
		// mayFile first: an account without keys yet has none to check.
		if s.mayFile(u) != nil {
			return nil, refused(u)
		}
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return nil, err
		} else if held {
			return nil, refused(u)
		}
	}
	return us, nil
}

// putRevision seals and stores revision o.rec.Revision with content c.
func (s *Service) putRevision(ctx context.Context, tx store.Tx, o *opened, c channel.Content, now time.Time) ([]byte, error) {
	sealed, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, revisionField(o.rec.Revision), c)
	if err != nil {
		return nil, err
	}
	head, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, headingField(o.rec.Revision), heading{Title: c.Title, Marking: c.Marking})
	if err != nil {
		return nil, err
	}
	h := vault.ContentHash(c.Title, c.Body, c.Marking)
	err = tx.PutRevision(ctx, &store.Revision{MemoID: o.rec.ID, Revision: o.rec.Revision, KeyVersion: o.rec.KeyVersion, Sealed: sealed, ContentHash: h[:], CreatedAt: micros(now), Heading: head})
	return h[:], storeErr(err, "the memo")
}

// EditMemo makes a new revision. Every signature on the old one stops
// counting; the answer says how many were voided.
func (s *Service) EditMemo(ctx context.Context, a *Actor, memoID string, in EditInput) (*Memo, error) {
	c := channel.Content{Title: in.Title, Body: in.Body, Marking: in.Marking}
	if err := s.validateContent(c); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := s.requireDrafter(a, o); err != nil {
			return err
		}
		if !channel.State(o.rec.State).Editable() {
			return channel.Errorf(channel.ECONFLICT, "a memo that is %s can no longer be edited", o.rec.State)
		}
		if in.ExpectedRevision != o.rec.Revision {
			return channel.Errorf(channel.ECONFLICT, "the memo is at revision %d, not %d: someone else edited it; reload and merge your changes", o.rec.Revision, in.ExpectedRevision)
		}
		if o.rec.Revision >= s.caps.revisions {
			return channel.Errorf(channel.ECONFLICT, "the memo has %d revisions, the most one may have: submit it as it stands, or start a new memo from its text", o.rec.Revision)
		}
		now := s.now()
		voided := o.roster.VoidSignatures()
		o.rec.Revision++
		o.rec.UpdatedAt = micros(now)
		hash, err := s.putRevision(ctx, tx, o, c, now)
		if err != nil {
			return err
		}
		ev := authorEvent("memo.edit", a, o)
		ev.content, ev.revision = hash, o.rec.Revision
		ev.detail = map[string]any{"voided_signatures": voided}
		if out, _, err = s.save(ctx, tx, a, o, ev); err != nil {
			return err
		}
		out.VoidedSignatures = &voided
		return nil
	})
	return out, err
}

// InviteSigners asks colleagues to co-sign; the memo starts circulating.
func (s *Service) InviteSigners(ctx context.Context, a *Actor, memoID string, usernames []string) (*Memo, error) {
	if err := channel.ValidateUsernames("usernames", usernames, false); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := s.requireDrafter(a, o); err != nil {
			return err
		}
		if o.roster.Anonymous {
			return errOneAuthor("usernames")
		}
		next, err := channel.Transition(channel.State(o.rec.State), channel.ActInvite)
		if err != nil {
			return err
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "invite anyone to co-sign"); err != nil {
			return err
		}
		us, err := s.participants(ctx, tx, "usernames", usernames)
		if err != nil {
			return err
		}
		for _, u := range us {
			if o.roster.Find(u.ID) >= 0 {
				return channel.Invalid("usernames", "%q is already an author of this memo", u.Username)
			}
			o.roster.Authors = append(o.roster.Authors, channel.Author{UserID: u.ID, Username: u.Username, DisplayName: u.DisplayName, Kind: channel.KindSigner, Nonce: newNonce()})
			if err := s.postMail(ctx, tx, u, o.rec.ID, o.keys); err != nil {
				return err
			}
		}
		if n, most := len(o.roster.Authors), s.caps.authors; n > most {
			had := n - len(us)
			return channel.Invalid("usernames", "a memo takes at most %d drafters and signers; this one has %d, so %d more can be invited", most, had, most-had)
		}
		o.author = &o.roster.Authors[o.roster.Find(a.User.ID)]
		o.rec.State, o.rec.UpdatedAt = string(next), micros(s.now())
		ev := authorEvent("memo.invite", a, o)
		ev.detail = map[string]any{"invited": usernames}
		if out, _, err = s.save(ctx, tx, a, o, ev); err != nil {
			return err
		}
		return s.accountsUnchanged(ctx, tx, us)
	})
	return out, err
}

// Sign puts the actor's signature on an exact revision, which must be the
// current one.
func (s *Service) Sign(ctx context.Context, a *Actor, memoID string, revision int) (*Memo, error) {
	if err := s.mayFile(a.User); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireAuthor(o, false); err != nil {
			return err
		}
		if !channel.State(o.rec.State).Editable() {
			return channel.Errorf(channel.ECONFLICT, "a memo that is %s can no longer be signed", o.rec.State)
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "sign a memo"); err != nil {
			return err
		}
		if revision != o.rec.Revision {
			return channel.Errorf(channel.ECONFLICT, "revision %d is not the current one (%d): read the current text before you sign", revision, o.rec.Revision)
		}
		c, hash, err := o.content(ctx, tx, revision)
		if err != nil {
			return err
		}
		st := vault.Statement{MemoID: o.rec.ID, Revision: revision, ContentHash: [32]byte(hash), Marking: c.Marking, Signer: a.User.Username}
		now := s.now()
		o.author.Signature, o.author.SignedRevision, o.author.SignedAt = a.id.Sign(st), revision, now
		o.rec.UpdatedAt = micros(now)
		ev := authorEvent("memo.sign", a, o)
		ev.content, ev.revision = hash, revision
		out, _, err = s.save(ctx, tx, a, o, ev)
		return err
	})
	return out, err
}

// Unsign takes the actor's signature back before submission.
func (s *Service) Unsign(ctx context.Context, a *Actor, memoID string) (*Memo, error) {
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireAuthor(o, false); err != nil {
			return err
		}
		if !channel.State(o.rec.State).Editable() {
			return channel.Errorf(channel.ECONFLICT, "a memo that is %s can no longer be changed", o.rec.State)
		}
		if len(o.author.Signature) == 0 {
			return channel.Errorf(channel.ECONFLICT, "you have not signed this memo")
		}
		o.author.Signature, o.author.SignedRevision, o.author.SignedAt = nil, 0, time.Time{}
		o.rec.UpdatedAt = micros(s.now())
		var err error
		out, _, err = s.save(ctx, tx, a, o, authorEvent("memo.unsign", a, o))
		return err
	})
	return out, err
}
