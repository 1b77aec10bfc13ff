package service

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Anonymous reports (profiles that allow them: the EU Directive's channel).
//
// The office and the readers hold a memo's key: everything sealed under it
// they can open, with their keys and a copy of the database, whatever the
// service shows them. So an anonymous report seals what names its author
// under a key they never get. At its making the author draws an authors'
// identity (a vault.Identity, kept only in the author's private index):
//
//   - the roster the memo's key opens is a cover that names no one: it says
//     the report is anonymous and holds the real roster (names, user ids,
//     commitment nonces, the signature) sealed under the authors' identity's
//     index key (Hidden), and that identity's public box (AuthorsBox);
//   - the author's own ledger entries record no actor in their sealed
//     detail, and the items they write (a withdrawal's reason, a message)
//     no author: their leaves carry a commitment whose nonce is in
//     the hidden roster, as every author's do;
//   - a reader's removal, which gives the memo a new key, cannot mail it to
//     an author no one may name: the office wraps it to AuthorsBox instead,
//     as an access row of the group authorsGroup, which the author unwraps
//     with the authors' identity (authorsAccess). The memo's ledger vouches
//     for such keys as for any other (keysVouched);
//   - the author's index keeps the report's entry under an owner tag of
//     its own, not their other memos' (indexTags), and every entry is
//     padded to one size: rows written in one transaction with the report
//     must not tie it to memos whose author the office knows;
//   - what only the author meets (a wrap that does not open, a cover their
//     index disagrees with) is passed over, neither an error nor a log
//     line: anything that happened on their requests alone would point
//     them out to whoever wrote the rows;
//   - a report has one author: co-drafters and co-signers would each have
//     to be handed the authors' identity, and meetings name no attendee.
//
// What stays in the clear is what is in the clear for every memo: its
// dates, its state and its number of authors (one).
const authorsGroup = "group:authors"

// openHidden opens the real roster of an anonymous report for its author,
// who holds the authors' identity. The author's own index is the word on
// whether a memo is an anonymous report, not the cover: the office holds
// the key the cover is sealed under, and a cover it wrote saying the
// report is not anonymous, with a list of drafters of its choosing, must
// not make the author act under their name. So the authors come from the
// hidden roster alone; a cover that is not an anonymous report's, or a
// hidden roster that does not open, refuses the author's way in.
// Someone without an authors' identity whose index holds the memo's key
// (mail anyone may post) is simply not an author of it.
func (o *opened) openHidden() error {
	switch {
	case o.authorsID == nil && o.roster.Anonymous:
		return errors.New("the memo is an anonymous report, and the index holds no authors' identity for it")
	case o.authorsID == nil:
		return nil
	case !o.roster.Anonymous:
		return errors.New("the author's index holds the authors' identity of an anonymous report; the memo's roster is not one")
	}
	plain, err := vault.Open(o.authorsID.IndexKey(), hiddenRosterAD(o.rec.ID), o.roster.Hidden)
	if err != nil {
		return fmt.Errorf("the anonymous report's roster does not open: %w", err)
	}
	var r hiddenRoster
	if err := decodeSealed(plain, &r); err != nil {
		return err
	}
	o.roster.Authors, o.roster.Dropped = r.Authors, r.Dropped
	return nil
}

// hiddenRoster is the real roster of an anonymous report, padded to a
// multiple of hiddenPad bytes: its size, which the office (holding the
// cover) and whoever holds the database see, would otherwise tell how
// long its author's username and display name are, and the directory
// shows everyone's. (Rosters sealed before December 2026 have no pad.)
type hiddenRoster struct {
	Authors []channel.Author `json:"authors"`
	Dropped []channel.Author `json:"dropped,omitempty"`
	Pad     string           `json:"pad,omitempty"`
}

// hiddenPad holds a roster of one author with the longest names allowed.
const hiddenPad = 2048

// sealHidden seals, for the author of an anonymous report, the real
// roster into the cover, and leaves the cover naming no one. A step of
// the office's or a reader's has only the cover, sealed again as it is.
func (o *opened) sealHidden() (channel.Roster, error) {
	r := o.roster
	if !r.Anonymous {
		return r, nil
	}
	if o.authorsID != nil {
		h := hiddenRoster{Authors: r.Authors, Dropped: r.Dropped}
		plain, err := json.Marshal(h)
		if err != nil {
			return r, err
		}
		n := (hiddenPad - (len(plain)+len(`,"pad":""`))%hiddenPad) % hiddenPad
		if n == 0 {
			n = hiddenPad // an empty pad is left out, and with it its 9 bytes
		}
		h.Pad = strings.Repeat(" ", n)
		if plain, err = json.Marshal(h); err != nil {
			return r, err
		}
		r.Hidden = vault.Seal(o.authorsID.IndexKey(), hiddenRosterAD(o.rec.ID), plain)
	}
	r.Authors, r.Dropped = nil, nil
	return r, nil
}

func hiddenRosterAD(memoID string) []byte { return vault.AD("memo", memoID, "hidden-roster") }

// anonymousAuthor reports whether o is an anonymous report opened by its
// author (only they hold the authors' identity, and openHidden let them in
// only with a cover that agrees): what they write must not name them.
func (o *opened) anonymousAuthor() bool { return o.rel == relAuthor && o.authorsID != nil }

// authorsAccess adds to ix.keys the versions of the memo's key the office
// wrapped to the authors of an anonymous report (rotate), which the
// author's index lacks: the keys of the memo's later versions. A wrap that
// does not open is passed over as if it were not there: only the author
// tries to open these, and an error, or a line in the log, on their
// requests alone would single them out to whoever wrote it. For the same
// reason a key that opens but that the memo's ledger did not make (one
// the office, which reads the cover, wrapped to the authors' box alone)
// is passed over too: refused as tampering on the author's requests only,
// it would point them out. The report then stays at the version before
// for the author, as for everyone whom no wrap of that key reaches.
func (s *Service) authorsAccess(ctx context.Context, tx store.Tx, w ways, a *Actor, rec *store.Memo, ix indexed) error {
	if _, current := ix.keys[rec.KeyVersion]; current || ix.authors == nil {
		return nil
	}
	all, err := w.accessList(ctx, tx, rec.ID)
	if err != nil {
		return err
	}
	for _, acc := range all {
		if _, held := ix.keys[acc.KeyVersion]; acc.Grantee != authorsGroup || held {
			continue
		}
		k, err := s.keys.unwrap(a.sessionID, ix.authors, acc.Wrapped, time.Now())
		if err != nil {
			continue
		}
		if made, err := s.keyVouched(ctx, tx, rec.ID, acc.KeyVersion, k); err != nil {
			return err
		} else if made {
			ix.keys[acc.KeyVersion] = k
		}
	}
	return nil
}

// wrapToAuthors gives the authors of an anonymous report version kv of
// its key, wrapped to their box.
func (s *Service) wrapToAuthors(ctx context.Context, tx store.Tx, o *opened, kv int, key vault.Key) error {
	if !o.roster.Anonymous {
		return nil
	}
	if ok, err := s.authorsBoxVouched(ctx, tx, o); err != nil || !ok {
		return err
	}
	w, err := vault.WrapKey(o.roster.AuthorsBox, key)
	if err != nil {
		return errInternal("memo %s: the authors' box: %w", o.rec.ID, err)
	}
	return tx.PutAccess(ctx, &store.Access{MemoID: o.rec.ID, Grantee: authorsGroup, KeyVersion: kv, Wrapped: w, AddedBy: "system", Standing: true, AddedAt: micros(s.now())})
}

// newAnonymous makes o, a report being made, anonymous: its author draws
// the authors' identity, which it returns for their index.
func newAnonymous(o *opened) (*vault.Identity, error) {
	id, err := vault.NewIdentity()
	if err != nil {
		return nil, err
	}
	o.roster.Anonymous, o.roster.AuthorsBox, o.authorsID = true, id.Public().Box, id
	return id, nil
}

// errOneAuthor refuses a second author for an anonymous report.
func errOneAuthor(field string) error {
	return channel.Invalid(field, "an anonymous report has one author: it takes no co-drafters or co-signers")
}
