package service

import (
	"bytes"
	"context"
	"errors"
	"maps"
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
	// authorsID is the authors' identity of an anonymous report, when its
	// author opened it (anonymous.go).
	authorsID *vault.Identity
	pre       *precomputed   // crypto done before the transaction, if any
	head      *store.Heading // the current revision's heading, read with a list's page
	// listed is the memo's access list as read while opening it in a read
	// transaction (listWays), nil in a write transaction: see accessList.
	listed *listWays
	// history is the memo's ledger as read in a read transaction (see
	// memoLedger), nil until then.
	history []store.LedgerEntry
	// latest is the memo's latest entry that is not a read (MemoLatest),
	// if latestKnown: keysVouched reads it.
	latest      int64
	latestKnown bool
}

// memoLedger is the memo's history (MemoLedger): in a read transaction
// read once, the first time it is asked for (vouching the memo's keys,
// then showing its events, would read the same rows twice), in a write
// transaction read afresh, since the transaction may have added to it.
func (o *opened) memoLedger(ctx context.Context, tx store.Tx) ([]store.LedgerEntry, error) {
	if o.history != nil {
		return o.history, nil
	}
	entries, err := tx.MemoLedger(ctx, o.rec.ID)
	if err == nil && o.listed != nil {
		o.history = entries
	}
	return entries, err
}

// accessList is the memo's access list: in a read transaction the one its
// opening read (a second query for the same rows would find them
// unchanged), in a write transaction read afresh, since the transaction
// may have changed it.
func (o *opened) accessList(ctx context.Context, tx store.Tx) ([]*store.Access, error) {
	if o.listed != nil {
		return o.listed.accessList(ctx, tx, o.rec.ID)
	}
	return tx.AccessList(ctx, o.rec.ID)
}

func (o *opened) content(ctx context.Context, tx store.Tx, rev int) (channel.Content, []byte, error) {
	r, err := tx.Revision(ctx, o.rec.ID, rev)
	if err != nil {
		return channel.Content{}, nil, err
	}
	return o.openRevision(r)
}

// openRevision opens a revision's text, and returns the hash of the text
// itself: what a signer signs, a receipt and the ledger record. The hash
// stored beside it is a column anyone who can write the database could
// change, so that signers would attest a text they never read; one that
// differs from the text's is refused as tampering.
func (o *opened) openRevision(r *store.Revision) (channel.Content, []byte, error) {
	var c channel.Content
	plain, err := openBoundField(o.keys, r.KeyVersion, o.rec.ID, revisionField(r.Revision), "revision", r.Sealed)
	if err != nil {
		return c, nil, err
	}
	if err := decodeSealed(plain, &c); err != nil {
		return c, nil, err
	}
	h := vault.ContentHash(c.Title, c.Body, c.Marking)
	if !bytes.Equal(h[:], r.ContentHash) {
		return c, nil, errInternal("memo %s revision %d: the stored content hash is not its text's: the database was changed", o.rec.ID, r.Revision)
	}
	return c, h[:], nil
}

func (o *opened) sealRoster() error {
	r, err := o.sealHidden()
	if err != nil {
		return err
	}
	b, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, "roster", r)
	o.rec.Roster = b
	return err
}

// openMemo finds the actor's way into a memo. Anyone without one gets
// channel.ErrNotFound, the same answer as for a memo that does not exist;
// the same lookups run in both cases so timing tells little either.
// In a write transaction, the actor's mailbox is collected first when the
// memo is not in their index yet (a new invitation).
func (s *Service) openMemo(ctx context.Context, tx store.Tx, a *Actor, memoID string, write bool) (*opened, error) {
	if !channel.ValidID(memoID) {
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
	var o *opened
	if write {
		o, err = s.openRecord(ctx, tx, a, rec, missing, write, queryWays{})
	} else {
		w := &listWays{}
		if o, err = s.openRecord(ctx, tx, a, rec, missing, write, w); err == nil {
			o.listed = w
		}
	}
	if err != nil {
		return nil, err
	}
	// What a list shows of a memo (its title) is not vouched for; what is
	// opened to be read or written is (vouch.go).
	if err := s.keysVouched(ctx, tx, o); err != nil {
		return nil, err
	}
	return o, nil
}

// ways is where openRecord looks for the actor's ways into a memo: the
// actor's author-index entry and the memo's key wraps. For one memo they
// are queries (queryWays); for a page of a list they are read for the whole
// page at once, a query or two each (pageWays). openRecord applies the same
// rules to both.
type ways interface {
	// indexEntry is the sealed entry for memoID in id's author index.
	indexEntry(ctx context.Context, tx store.Tx, id *vault.Identity, memoID string) ([]byte, error)
	accessFor(ctx context.Context, tx store.Tx, memoID, grantee string, keyVersion int) (*store.Access, error)
	// accessList returns at least the memo's wraps to the grantees that
	// accessFor is asked about.
	accessList(ctx context.Context, tx store.Tx, memoID string) ([]*store.Access, error)
	// roster says whether the memo's roster is wanted when the actor is
	// not an author: a list shows no authors.
	roster() bool
}

type queryWays struct{}

func (queryWays) indexEntry(ctx context.Context, tx store.Tx, id *vault.Identity, memoID string) ([]byte, error) {
	owners, entry := indexTags(id, memoID)
	return tx.IndexEntry(ctx, owners, entry)
}

func (queryWays) accessFor(ctx context.Context, tx store.Tx, memoID, grantee string, kv int) (*store.Access, error) {
	return tx.AccessFor(ctx, memoID, grantee, kv)
}

func (queryWays) accessList(ctx context.Context, tx store.Tx, memoID string) ([]*store.Access, error) {
	return tx.AccessList(ctx, memoID)
}

func (queryWays) roster() bool { return true }

// listWays are queryWays that read the memo's whole access list once, when
// first asked, and find the wraps asked for in it: opening a memo for a
// reader or the office and showing its distribution then take one query.
type listWays struct {
	queryWays
	list []*store.Access
	read bool
}

func (w *listWays) accessFor(ctx context.Context, tx store.Tx, memoID, grantee string, kv int) (*store.Access, error) {
	all, err := w.accessList(ctx, tx, memoID)
	if err != nil {
		return nil, err
	}
	for _, r := range all {
		if r.Grantee == grantee && r.KeyVersion == kv {
			return r, nil
		}
	}
	return nil, store.ErrNotFound
}

func (w *listWays) accessList(ctx context.Context, tx store.Tx, memoID string) ([]*store.Access, error) {
	if !w.read {
		list, err := tx.AccessList(ctx, memoID)
		if err != nil {
			return nil, err
		}
		w.list, w.read = list, true
	}
	return w.list, nil
}

// pageWays are the actor's index entries for a page of memos and the
// page's wraps to the actor and, for the office, to the office.
type pageWays struct {
	id     *vault.Identity            // whose index entries these are
	index  map[string][]byte          // sealed entries by memo id
	access map[string][]*store.Access // by memo id
}

func readPageWays(ctx context.Context, tx store.Tx, a *Actor, recs []*store.Memo) (*pageWays, error) {
	p := &pageWays{id: a.id, index: map[string][]byte{}, access: map[string][]*store.Access{}}
	ids := make([]string, len(recs))
	for i, rec := range recs {
		ids[i] = rec.ID
	}
	var owners, tags [][]byte
	if a.id != nil {
		owners, tags = indexOwnerTags(a.id), make([][]byte, len(recs))
		for i, rec := range recs {
			tags[i] = indexEntryTag(a.id, rec.ID)
		}
	}
	grantees := []string{a.User.ID}
	if a.id != nil {
		// For anonymous reports (authorsAccess): an author who is no
		// longer a member still opens theirs.
		grantees = append(grantees, authorsGroup)
	}
	if a.Has(channel.RoleOffice) {
		grantees = append(grantees, officeGroup)
	}
	// The page's reads below and its headings (ListMemos) need only the
	// page's ids: one round trip where the store can batch them.
	if err := tx.ReadPageAhead(ctx, ids, owners, tags, grantees); err != nil {
		return nil, err
	}
	if owners != nil {
		byTag, err := tx.IndexEntriesFor(ctx, owners, tags)
		if err != nil {
			return nil, err
		}
		for i, rec := range recs {
			if sealed, ok := byTag[string(tags[i])]; ok {
				p.index[rec.ID] = sealed
			}
		}
	}
	rows, err := tx.AccessForMemos(ctx, ids, grantees)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		p.access[r.MemoID] = append(p.access[r.MemoID], r)
	}
	return p, nil
}

// fullRows replaces the light rows of the memos in whose author index the
// actor has an entry with full ones: openRecord needs their rosters to see
// whether the actor is one of their authors.
func (p *pageWays) fullRows(ctx context.Context, tx store.Tx, recs []*store.Memo) ([]*store.Memo, error) {
	if len(p.index) == 0 {
		return recs, nil
	}
	ids := slices.Collect(maps.Keys(p.index))
	full, err := tx.MemosByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*store.Memo, len(full))
	for _, m := range full {
		byID[m.ID] = m
	}
	out := make([]*store.Memo, len(recs))
	for i, rec := range recs {
		out[i] = rec
		if m, ok := byID[rec.ID]; ok {
			out[i] = m
		}
	}
	return out, nil
}

func (p *pageWays) indexEntry(_ context.Context, _ store.Tx, id *vault.Identity, memoID string) ([]byte, error) {
	if sealed, ok := p.index[memoID]; ok && id == p.id {
		return sealed, nil
	}
	return nil, store.ErrNotFound
}

func (p *pageWays) accessFor(_ context.Context, _ store.Tx, memoID, grantee string, kv int) (*store.Access, error) {
	for _, r := range p.access[memoID] {
		if r.Grantee == grantee && r.KeyVersion == kv {
			return r, nil
		}
	}
	return nil, store.ErrNotFound
}

func (p *pageWays) accessList(_ context.Context, _ store.Tx, memoID string) ([]*store.Access, error) {
	return p.access[memoID], nil
}

func (p *pageWays) roster() bool { return false }

// openRecord is openMemo on a memo row already read in tx (missing: a
// stand-in for one that does not exist), looking for the ways in at w.
func (s *Service) openRecord(ctx context.Context, tx store.Tx, a *Actor, rec *store.Memo, missing, write bool, w ways) (*opened, error) {
	memoID := rec.ID
	var ix indexed
	var indexErr error = store.ErrNotFound
	if a.id != nil {
		ix, indexErr = lookIndex(ctx, tx, w, a.id, memoID)
		if indexErr != nil && !errors.Is(indexErr, store.ErrNotFound) {
			return nil, indexErr
		}
		if indexErr == nil && !missing {
			if err := s.authorsAccess(ctx, tx, w, a, rec, ix); err != nil {
				return nil, err
			}
		}
	}
	indexKeys := ix.keys
	// A new invitation, or a key rotation, may wait in the mailbox. Only
	// members can be authors, so only they have mail to collect; it is
	// collected in a transaction of its own (withMail), never in this one.
	if _, current := indexKeys[rec.KeyVersion]; !missing && a.id != nil && write && !current && a.Has(channel.RoleMember) && ctx.Value(mailCollected{}) == nil {
		waiting, err := s.hasMail(ctx, tx, a)
		if err != nil {
			return nil, err
		}
		if waiting {
			return nil, errMailWaiting
		}
	}
	o := &opened{rec: rec}
	if indexErr == nil && !missing {
		o.keys, o.authorsID = indexKeys, ix.authors
		if err := openJSON(o.keys, rec.KeyVersion, rec.ID, "roster", rec.Roster, &o.roster); err != nil {
			// Keys of an older version only: a rotation the author has
			// not collected yet. Fall through to the other ways in.
			o.keys, o.authorsID, o.roster = nil, nil, channel.Roster{}
		} else if err := o.openHidden(); err != nil {
			// An anonymous report's roster the author's index does not
			// agree with was written by someone with the memo's key (the
			// office, a reader) and database access: the author does not
			// act on it. Neither logged nor flagged as tampering, which
			// would mark the moments the author looks for whoever wrote
			// it; the report is gone from the author's view until the
			// roster is put back, which they notice and report.
			o.keys, o.authorsID, o.roster = nil, nil, channel.Roster{}
		} else if i := o.roster.Find(a.User.ID); i >= 0 && !a.Has(channel.RoleAdmin) {
			// An administrator who co-signed before the roles were refused
			// together reads no memo, their own included.
			o.rel, o.author = relAuthor, &o.roster.Authors[i]
			return o, nil
		}
		// Not an author (any longer): what the index opened is not theirs.
		o.authorsID, o.roster = nil, channel.Roster{}
	}
	if rec.SubmittedAt > 0 && a.Has(channel.RoleOffice) {
		if office, err := s.officeIdentity(ctx, tx, a); err == nil {
			if keys, err := s.unwrapAccess(ctx, tx, w, a, rec, officeGroup, office); err == nil {
				o.keys, o.rel = keys, relOffice
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
	}
	// Readers are principals (only principals are added to a
	// distribution); one whose role was taken away keeps the wraps made to
	// them but may no longer use them, as does an administrator holding
	// the role from before the two were refused together (an account made
	// an administrator since December 2026 loses its wraps: UpdateUser).
	if o.rel == relNone && a.id != nil && a.Has(channel.RolePrincipal) && !a.Has(channel.RoleAdmin) {
		if keys, err := s.unwrapAccess(ctx, tx, w, a, rec, a.User.ID, a.id); err == nil {
			o.keys, o.rel = keys, relReader
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if o.rel == relNone || missing {
		return nil, channel.ErrNotFound
	}
	if !w.roster() {
		return o, nil
	}
	if err := openJSON(o.keys, rec.KeyVersion, rec.ID, "roster", rec.Roster, &o.roster); err != nil {
		return nil, err
	}
	return o, nil
}

// unwrapAccess unwraps every key version wrapped to grantee, with id, for a.
func (s *Service) unwrapAccess(ctx context.Context, tx store.Tx, w ways, a *Actor, rec *store.Memo, grantee string, id *vault.Identity) (memoKeys, error) {
	cur, err := w.accessFor(ctx, tx, rec.ID, grantee, rec.KeyVersion)
	if err != nil {
		return nil, err
	}
	keys := memoKeys{}
	k, err := s.keys.unwrap(a.sessionID, id, cur.Wrapped, time.Now())
	if errors.Is(err, vault.ErrNotForMe) && grantee == a.User.ID {
		// Wrapped to keys the account had before it started afresh
		// (NewKeys): they are gone, and keys made afresh get no memo
		// from before them. No way in, as for a memo never shared.
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, errInternal("access wrap does not open: %w", err)
	}
	keys[rec.KeyVersion] = k
	if rec.KeyVersion > 1 {
		all, err := w.accessList(ctx, tx, rec.ID)
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

// requireDrafter is requireAuthor for a drafter who may still file: one
// made ineligible, or no longer a member, since the draft began may not
// carry it on, nor end or answer for the others' case.
func (s *Service) requireDrafter(a *Actor, o *opened) error {
	if err := requireAuthor(o, true); err != nil {
		return err
	}
	return s.mayFile(a.User)
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
	// An administrator must never read a memo, their own included: a
	// co-author's would show them its text and its authors. An account
	// holding both roles from before files nothing.
	if slices.Contains(u.Roles, string(channel.RoleAdmin)) {
		return channel.Errorf(channel.EFORBIDDEN, "%q is an administrator, and administrators never take part in a memo: file from an account that is not one", u.Username)
	}
	if s.cfg.Profile.EligibleOnly && !u.Eligible {
		return channel.Errorf(channel.EFORBIDDEN, "%q is not eligible to file or sign under this channel's rules", u.Username)
	}
	if u.Disabled || u.KeyState != keysActive {
		return channel.Errorf(channel.EFORBIDDEN, "%q cannot take part until %s", u.Username, notActive(u))
	}
	return nil
}

// notActive says why u has no working keys.
func notActive(u *store.User) string {
	switch {
	case u.Disabled:
		return "their account is enabled again"
	case u.KeyState == keysPending:
		return "they have signed in and chosen their own password, which makes their keys"
	default:
		return "their keys, locked after a password reset, are restored"
	}
}
