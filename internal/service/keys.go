package service

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"maps"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// This file is the one seam between plaintext and the store: every memo
// field is sealed and opened here, and every path to a memo's data key
// (author index, mailbox, office group key, reader wrap) starts here.

const (
	keysActive = "active" // the identity is sealed under the password
	keysReset  = "reset"  // an administrator reset the password: the identity awaits recovery
	// keysPending: an administrator made the account and chose its first
	// password; the keys are made when the user chooses their own
	// (ChangePassword), so that none is ever sealed under a password an
	// administrator knows.
	keysPending = "pending"

	officeGroup = "group:office"

	settingOffice = "office.public"
	// settingOfficeRecovery is the office's key sealed to the recovery
	// key, for the custodians (GrantOfficeByCustodians).
	settingOfficeRecovery = settingOffice + ".recovery"
	settingRecovery       = "recovery.public"
	settingDistribution   = "distribution"
	settingLedgerVKey     = "ledger.vkey"

	// mailMargin is how far back a mailbox scan reaches before the last
	// one: a transaction that posted mail may commit after a later one.
	mailMargin = 5 * time.Minute
	mailBatch  = 500
)

// memoKeys are a memo's data keys by key version.
type memoKeys map[int]vault.Key

func (k memoKeys) encode() map[string][]byte {
	out := make(map[string][]byte, len(k))
	for v, key := range k {
		out[strconv.Itoa(v)] = key[:]
	}
	return out
}

func decodeKeys(in map[string][]byte) (memoKeys, error) {
	out := make(memoKeys, len(in))
	for v, b := range in {
		n, err := strconv.Atoi(v)
		if err != nil || len(b) != len(vault.Key{}) {
			return nil, errors.New("service: malformed key entry")
		}
		out[n] = vault.Key(b)
	}
	return out, nil
}

// keyEntry is what an author's private index and the mailbox hold about a
// memo: its id and data keys.
type keyEntry struct {
	Memo string            `json:"m"`
	Keys map[string][]byte `json:"k"`
	// Authors is the authors' identity of an anonymous report
	// (anonymous.go), marshalled. Only its author's index holds one, put
	// there when the report is made: putIndex never takes it from mail.
	Authors []byte `json:"a,omitempty"`
	// Pad fills an entry of the index up to a multiple of indexPad bytes,
	// so that an anonymous report's, which holds the authors' identity,
	// is not told from others' by its size.
	Pad string `json:"p"`
}

// indexPad is the size index entries are padded to a multiple of.
const indexPad = 256

// indexed is an entry of an author's index, opened.
type indexed struct {
	keys    memoKeys
	authors *vault.Identity // the authors' identity of an anonymous report; nil for others
}

// indexTags are the owner tags an identity's index entries are kept
// under and the entry tag of memoID's. An anonymous report's entry is
// kept under an owner tag of its own (anonymous.go): written in the same
// transaction as the report, an entry under the tag of its author's other
// memos would tie the report to them for anyone who sees which rows a
// transaction wrote (PostgreSQL's xmin), and the office knows who wrote
// those.
func indexTags(id *vault.Identity, memoID string) (owners [][]byte, entry []byte) {
	return indexOwnerTags(id), indexEntryTag(id, memoID)
}

func indexOwnerTags(id *vault.Identity) [][]byte {
	named, anonymous := id.IndexTag("author-index", "owner"), id.IndexTag("author-index", "anonymous-owner")
	return [][]byte{named[:], anonymous[:]}
}

func indexEntryTag(id *vault.Identity, memoID string) []byte {
	e := id.IndexTag("author-index", "entry", memoID)
	return e[:]
}

// putIndex records keys of memoID in the identity's private index, merged
// with what is already there. A key version's key never changes, but
// anyone may post mail to the identity's public key: of two keys for one
// version, the index keeps the one the memo's ledger made (keyVouched), so
// that mail can neither replace a key held nor lock its holder out with
// one posted ahead of a rotation.
func (s *Service) putIndex(ctx context.Context, tx store.Tx, id *vault.Identity, memoID string, keys memoKeys) error {
	return s.putIndexEntry(ctx, tx, id, memoID, keys, nil)
}

// putIndexEntry is putIndex that, for the author of an anonymous report
// being made, also records the report's authors' identity, under the
// index's anonymous owner tag (indexTags). Such an entry, once made, takes
// nothing more.
func (s *Service) putIndexEntry(ctx context.Context, tx store.Tx, id *vault.Identity, memoID string, keys memoKeys, authors *vault.Identity) error {
	have, err := readIndex(ctx, tx, id, memoID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if have.authors != nil {
		// The author of an anonymous report gets the memo's later keys
		// from the office's wraps to the authors' box (authorsAccess),
		// vouched for by the memo's ledger, never by mail: mail anyone may
		// post would sit in their index unvouched, ahead of the real key.
		return nil
	}
	merged := memoKeys{}
	maps.Copy(merged, have.keys)
	for kv, k := range keys {
		if old, ok := have.keys[kv]; ok && old != k {
			if made, err := s.keyVouched(ctx, tx, memoID, kv, k); err != nil {
				return err
			} else if !made {
				continue
			}
		}
		merged[kv] = k
	}
	e := keyEntry{Memo: memoID, Keys: merged.encode()}
	if authors != nil {
		e.Authors = authors.Marshal()
	}
	plain, err := json.Marshal(e)
	if err != nil {
		return err
	}
	e.Pad = strings.Repeat(" ", (indexPad-len(plain)%indexPad)%indexPad)
	if plain, err = json.Marshal(e); err != nil {
		return err
	}
	owners, entry := indexTags(id, memoID)
	owner := owners[0]
	if authors != nil {
		owner = owners[1]
	}
	return tx.PutIndexEntry(ctx, owner, entry, vault.Seal(id.IndexKey(), vault.AD("author-index"), plain))
}

func readIndex(ctx context.Context, tx store.Tx, id *vault.Identity, memoID string) (indexed, error) {
	return lookIndex(ctx, tx, queryWays{}, id, memoID)
}

// lookIndex is readIndex, finding the entry at w.
func lookIndex(ctx context.Context, tx store.Tx, w ways, id *vault.Identity, memoID string) (indexed, error) {
	var out indexed
	sealed, err := w.indexEntry(ctx, tx, id, memoID)
	if err != nil {
		return out, err
	}
	e, err := openIndexEntry(id, sealed)
	if err != nil {
		return out, err
	}
	if e.Memo != memoID {
		return out, errInternal("author index entry is bound to another memo")
	}
	if len(e.Authors) > 0 {
		if out.authors, err = vault.ParseIdentity(e.Authors); err != nil {
			return out, errInternal("author index entry: the authors' identity: %w", err)
		}
	}
	out.keys, err = decodeKeys(e.Keys)
	return out, err
}

// listIndex returns the ids of every memo in the identity's index.
func listIndex(ctx context.Context, tx store.Tx, id *vault.Identity) ([]string, error) {
	var all [][]byte
	for _, owner := range indexOwnerTags(id) {
		some, err := tx.IndexEntries(ctx, owner)
		if err != nil {
			return nil, err
		}
		all = append(all, some...)
	}
	var ids []string
	for _, sealed := range all {
		plain, err := openIndexEntry(id, sealed)
		if err != nil {
			return nil, err
		}
		ids = append(ids, plain.Memo)
	}
	return ids, nil
}

// openIndexEntry opens an index entry. Entries are sealed with the owner's
// index key; the memo id inside must match the one looked up, so an entry
// moved under another tag is refused.
func openIndexEntry(id *vault.Identity, sealed []byte) (keyEntry, error) {
	var e keyEntry
	plain, err := vault.Open(id.IndexKey(), vault.AD("author-index"), sealed)
	if err != nil {
		return e, errInternal("author index entry does not open: %w", err)
	}
	if err := decodeSealed(plain, &e); err != nil {
		return e, err
	}
	return e, nil
}

// postMail leaves a memo's keys for a co-author, sealed to their public key.
// Nothing in the row says for whom.
func (s *Service) postMail(ctx context.Context, tx store.Tx, recipient *store.User, memoID string, keys memoKeys) error {
	if held, err := s.keysHeld(ctx, tx, recipient); err != nil {
		return err
	} else if held {
		return errAwaitingConfirmation("", recipient.Username)
	}
	plain, err := json.Marshal(keyEntry{Memo: memoID, Keys: keys.encode()})
	if err != nil {
		return err
	}
	sealed, err := vault.SealTo(recipient.BoxPublic, plain)
	if err != nil {
		return err
	}
	return tx.PostMail(ctx, &store.Mail{ID: newID(), PostedAt: micros(s.now()), Sealed: sealed})
}

// The mailbox cursor says how far the actor's last scan reached. It is kept
// in the actor's own sealed index, not on the user row: a transaction that
// wrote both a user row and author-index rows would let anyone who can see
// which rows a transaction wrote (PostgreSQL's xmin, SQLite's WAL) tie the
// index, and so the memos in it, to the person.
func cursorTags(id *vault.Identity) (owner, entry []byte) {
	o := id.IndexTag("mail-cursor", "owner")
	e := id.IndexTag("mail-cursor", "entry")
	return o[:], e[:]
}

func (s *Service) mailCursor(ctx context.Context, tx store.Tx, a *Actor) (int64, error) {
	owner, entry := cursorTags(a.id)
	sealed, err := tx.IndexEntry(ctx, [][]byte{owner}, entry)
	if errors.Is(err, store.ErrNotFound) {
		// Mail posted before the account existed cannot be for it.
		return a.User.CreatedAt, nil
	} else if err != nil {
		return 0, err
	}
	plain, err := vault.Open(a.id.IndexKey(), vault.AD("mail-cursor"), sealed)
	if err != nil || len(plain) != 8 {
		return 0, errInternal("mail cursor does not open")
	}
	return int64(binary.BigEndian.Uint64(plain)), nil
}

func (s *Service) putMailCursor(ctx context.Context, tx store.Tx, a *Actor, at int64) error {
	owner, entry := cursorTags(a.id)
	return tx.PutIndexEntry(ctx, owner, entry, vault.Seal(a.id.IndexKey(), vault.AD("mail-cursor"), binary.BigEndian.AppendUint64(nil, uint64(at))))
}

// hasMail reports whether the mailbox holds entries the actor has not
// scanned yet (a cheap read before a write transaction).
func (s *Service) hasMail(ctx context.Context, tx store.Tx, a *Actor) (bool, error) {
	if a.id == nil {
		return false, nil
	}
	since, err := s.mailCursor(ctx, tx, a)
	if err != nil {
		return false, err
	}
	m, err := tx.MailSince(ctx, since-mailMargin.Microseconds(), "", 1)
	return len(m) > 0, err
}

// errMailWaiting is openRecord's answer, in a write transaction, when
// mail that may hold the actor's keys to the memo waits. Collected there,
// the author-index rows it writes would share a transaction with what the
// action writes, some of which names the actor (a leaf naming an office
// member or principal, a notice): whoever holds the database could then tie
// the actor's index tag, and so the memos they wrote, to them.
var errMailWaiting = errors.New("service: mail waits to be collected")

// mailCollected marks a context whose actor's mail was just collected.
type mailCollected struct{}

// withMail runs fn, which opens a memo for writing; if that found mail
// waiting, it collects the mail in a transaction that writes nothing else
// and runs fn once more, which then goes on without looking (mail posted
// since waits for the next time).
func (s *Service) withMail(ctx context.Context, a *Actor, fn func(ctx context.Context) error) error {
	err := fn(ctx)
	if !errors.Is(err, errMailWaiting) {
		return err
	}
	if err := s.collectMailApart(ctx, a); err != nil {
		return err
	}
	return fn(context.WithValue(ctx, mailCollected{}, true))
}

// collectPending collects the actor's mail, if any waits, in a
// transaction of its own: what a request that only reads does before it
// looks in the actor's index, which holds a memo newly shared with them,
// or a key version made since, only once their mail is collected.
func (s *Service) collectPending(ctx context.Context, a *Actor) error {
	var pending bool
	if err := s.inTx(ctx, false, func(tx store.Tx) error {
		var err error
		pending, err = s.hasMail(ctx, tx, a)
		return err
	}); err != nil || !pending {
		return err
	}
	return s.collectMailApart(ctx, a)
}

// collectMailApart collects the actor's mail in a transaction of its own,
// which commits apart from every other (it writes the author index).
func (s *Service) collectMailApart(ctx context.Context, a *Actor) error {
	return s.inIndexTx(ctx, func(tx store.Tx) error { _, err := s.collectMail(ctx, tx, a); return err })
}

// collectMail moves the actor's mailbox entries into their private index by
// trial decryption, deleting what it took.
func (s *Service) collectMail(ctx context.Context, tx store.Tx, a *Actor) (int, error) {
	if a.id == nil {
		return 0, nil
	}
	started := s.now()
	since, err := s.mailCursor(ctx, tx, a)
	if err != nil {
		return 0, err
	}
	since -= mailMargin.Microseconds()
	taken, after := 0, ""
	for {
		batch, err := tx.MailSince(ctx, since, after, mailBatch)
		if err != nil {
			return taken, err
		}
		var mine, memos []string
		mailed := map[string]memoKeys{}
		for _, m := range batch {
			plain, err := a.id.OpenSealed(m.Sealed)
			if errors.Is(err, vault.ErrNotForMe) {
				continue
			} else if err != nil {
				s.log.Warn("mailbox entry does not open", "error", err)
				continue
			}
			// Sealed to the actor, it is taken and deleted whatever it
			// holds: a confirmation's filler (mailRotatedKeys) holds no
			// memo, and must leave the mailbox like the rest of its mail.
			var e keyEntry
			if err := decodeSealed(plain, &e); err == nil && channel.ValidID(e.Memo) {
				if keys, err := decodeKeys(e.Keys); err == nil {
					if mailed[e.Memo] == nil {
						mailed[e.Memo] = memoKeys{}
						memos = append(memos, e.Memo)
					}
					maps.Copy(mailed[e.Memo], keys)
				}
			}
			mine = append(mine, m.ID)
		}
		for _, memoID := range memos {
			if err := s.takeMailed(ctx, tx, a, memoID, mailed[memoID]); err != nil {
				return taken, err
			}
		}
		if err := tx.DeleteMail(ctx, mine); err != nil {
			return taken, err
		}
		taken += len(mine)
		if len(batch) < mailBatch {
			break
		}
		// The next batch starts after this one's last entry, not after
		// its time: mail posted in the same microsecond as the last may
		// not have fitted (review 80).
		last := batch[len(batch)-1]
		since, after = last.PostedAt, last.ID
	}
	return taken, s.putMailCursor(ctx, tx, a, micros(started))
}

// takeMailed files in the actor's index the keys their mail brought for
// a memo, if the memo's ledger made each of them and its roster, opened
// with them, names the actor; and writes nothing otherwise, or when they
// bring nothing new. Anyone who can write the database can post mail to
// anyone's public key, naming any memo: were such mail filed unchecked,
// the index rows a collection wrote would say whether its recipient is an
// author of that memo (an entry rewritten) or not (one inserted). Now a
// mail that brings no key the ledger made, or that names a memo whose
// roster leaves the actor out, leaves the index as it was, author or not.
func (s *Service) takeMailed(ctx context.Context, tx store.Tx, a *Actor, memoID string, keys memoKeys) error {
	have, err := readIndex(ctx, tx, a.id, memoID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if have.authors != nil {
		return nil // an anonymous report's author takes no mail for it (putIndexEntry)
	}
	fresh := memoKeys{}
	for kv, k := range keys {
		if old, ok := have.keys[kv]; !ok || old != k {
			fresh[kv] = k
		}
	}
	if len(fresh) == 0 {
		return nil
	}
	// Which of them the memo's ledger made, from one reading of its
	// history (keyVouched's, for every key at once).
	entries, err := tx.MemoLedger(ctx, memoID)
	if err != nil {
		return err
	}
	made, _, _, err := s.madeKeys(ctx, tx, memoID, entries, fresh)
	if err != nil {
		return err
	}
	maps.DeleteFunc(fresh, func(kv int, _ vault.Key) bool { return !made[kv] })
	if len(fresh) == 0 {
		return nil
	}
	rec, err := tx.MemoByID(ctx, memoID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	all := memoKeys{}
	maps.Copy(all, have.keys)
	maps.Copy(all, fresh)
	var roster channel.Roster
	if openJSON(all, rec.KeyVersion, rec.ID, "roster", rec.Roster, &roster) != nil || roster.Find(a.User.ID) < 0 {
		return nil
	}
	return s.putIndex(ctx, tx, a.id, memoID, fresh)
}

// officeIdentity unwraps the channel office's group key for an office member.
func (s *Service) officeIdentity(ctx context.Context, tx store.Tx, a *Actor) (*vault.Identity, error) {
	if a.officeOK || a.officeErr != nil {
		return a.office, a.officeErr
	}
	a.office, a.officeErr = s.unwrapOffice(ctx, tx, a)
	a.officeOK = a.officeErr == nil
	return a.office, a.officeErr
}

func (s *Service) unwrapOffice(ctx context.Context, tx store.Tx, a *Actor) (*vault.Identity, error) {
	if !a.Has(channel.RoleOffice) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "only the channel office may do this")
	}
	// The roles are refused together; an account that holds both from
	// before does not open the office's key.
	if a.Has(channel.RoleAdmin) {
		return nil, channel.Errorf(channel.EFORBIDDEN, "an administrator may not hold the channel office's key: administrators must never read a memo; take one of the two roles away")
	}
	if a.id == nil {
		return nil, errKeysLocked
	}
	gk, err := tx.GroupKey(ctx, officeGroup, a.User.ID)
	if errors.Is(err, store.ErrNotFound) {
		if founded, err := s.officeFounded(ctx, tx); err != nil {
			return nil, err
		} else if !founded {
			return nil, channel.Errorf(channel.EFORBIDDEN, "%s", officeUnfounded)
		}
		return nil, channel.Errorf(channel.EFORBIDDEN, "your office access awaits a grant by a current member of the channel office")
	} else if err != nil {
		return nil, err
	}
	office, err := s.offices.identity(a.sessionID, gk.Wrapped, time.Now(), func() (*vault.Identity, error) {
		plain, err := a.id.OpenSealed(gk.Wrapped)
		if errors.Is(err, vault.ErrNotForMe) {
			// Wrapped to keys the account had before it started afresh
			// (from before NewKeys took such a wrap away).
			return nil, channel.Errorf(channel.EFORBIDDEN, "your office access awaits a grant by a current member of the channel office: the office's key was given to the keys you had before you started afresh")
		}
		if err != nil {
			return nil, errInternal("office key does not open for %q: %w", a.User.ID, err)
		}
		return vault.ParseIdentity(plain)
	})
	if err != nil {
		return nil, err
	}
	// Submissions are wrapped to the office.public setting. If it is not
	// the office key's, someone with the database put a key of theirs
	// there: stop, loudly, rather than go on beside it.
	if pub, err := tx.Setting(ctx, settingOffice); err != nil {
		return nil, err
	} else if string(pub) != office.Public().Box {
		s.tampered.Store(true)
		s.log.Error("the office's public key in the database is not the office key's: submissions since were wrapped to another key; restore office.public and find who changed it")
		return nil, errInternal("the office's public key in the database is not the office key's")
	}
	return office, nil
}

var errKeysLocked = channel.Errorf(channel.EFORBIDDEN, "your keys are locked after a password reset: ask the recovery custodians to restore them, or start afresh")

// errKeysPending answers an account whose keys are not made yet.
var errKeysPending = channel.Errorf(channel.EFORBIDDEN, "you have no keys yet: choose your own password first (the one you were given was set by an administrator); your keys are made then")

// sealed is a JSON value sealed under one key version of a memo, bound to
// the memo and the field it belongs to.
func sealJSON(keys memoKeys, kv int, memoID, field string, v any) ([]byte, error) {
	k, ok := keys[kv]
	if !ok {
		return nil, errInternal("no key version %d for memo", kv)
	}
	plain, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return vault.Seal(k, vault.AD("memo", memoID, field, strconv.Itoa(kv)), plain), nil
}

func openJSON(keys memoKeys, kv int, memoID, field string, sealed []byte, v any) error {
	plain, err := openField(keys, kv, memoID, field, sealed)
	if err != nil {
		return err
	}
	return decodeSealed(plain, v)
}

// decodeSealed decodes JSON that the service sealed itself: the plaintext
// of a seal that opened, so its own encoding/json.Marshal of v's type, with
// exact member names, valid UTF-8 and no duplicates. It uses
// go-json-experiment/json (the coming encoding/json/v2), which reads such
// input exactly as encoding/json does and several times faster: decoding
// what was opened (a memo's text, its roster, its history's details) was a
// tenth of a read's CPU with encoding/json.
func decodeSealed(plain []byte, v any) error {
	return jsonv2.Unmarshal(plain, v)
}

// openField opens what sealJSON sealed, without decoding it.
func openField(keys memoKeys, kv int, memoID, field string, sealed []byte) ([]byte, error) {
	k, ok := keys[kv]
	if !ok {
		return nil, errInternal("no key version %d for memo", kv)
	}
	plain, err := vault.Open(k, vault.AD("memo", memoID, field, strconv.Itoa(kv)), sealed)
	if err != nil {
		return nil, errInternal("memo field %q does not open: %w", field, err)
	}
	return plain, nil
}

// openBoundField opens a field sealed under its binding, field (which
// names what it is: a revision's number, an item's kind), or, if sealed
// before December 2026 when neither was named, under legacy: so that a
// sealed value copied over another of the same memo (an earlier draft over
// the submitted text, a comment relabelled as the reply) no longer opens
// there. What was sealed the old way stays open to such moves.
//
// An empty legacy asks for no fallback (itemLegacy).
func openBoundField(keys memoKeys, kv int, memoID, field, legacy string, sealed []byte) ([]byte, error) {
	plain, err := openField(keys, kv, memoID, field, sealed)
	if err != nil && legacy != "" {
		if old, lerr := openField(keys, kv, memoID, legacy, sealed); lerr == nil {
			return old, nil
		}
	}
	return plain, err
}

// revisionField names revision n's sealed text; itemField an item's.
func revisionField(n int) string       { return "revision:" + strconv.Itoa(n) }
func itemField(kind, id string) string { return "item:" + kind + ":" + id }

// readerReasonField names the office's reason for sharing a memo with
// reader, given by addedBy: sealed so, a reason copied onto another
// reader's access row, or a row credited to another member of the office,
// no longer opens. Before December 2026 the label was "reason" alone.
func readerReasonField(reader, addedBy string) string { return "reason:" + reader + ":" + addedBy }

// openReaderReason opens the office's reason on an access row. A key
// rotation copies the row, reason and all, to the new key version: the
// reason opens under the version it was sealed with, at or below the
// row's.
func openReaderReason(o *opened, acc *store.Access) (string, error) {
	for kv := acc.KeyVersion; kv >= 1; kv-- {
		if _, ok := o.keys[kv]; !ok {
			continue
		}
		plain, err := openBoundField(o.keys, kv, o.rec.ID, readerReasonField(acc.Grantee, acc.AddedBy), "reason", acc.Reason)
		if err != nil {
			continue
		}
		var reason reasonItem
		if err := decodeSealed(plain, &reason); err != nil {
			return "", err
		}
		return reason.Reason, nil
	}
	return "", errInternal("memo %s: the reason for a reader does not open: the access row was changed", o.rec.ID)
}

// itemLegacy is the label an item was sealed under before December 2026,
// "item:" and its id; none for an id that is not one (ValidID). An item's
// id is a row's column: written as "comment:" and the id of a comment,
// with the kind "reply", the old label of that id would be the new label
// of the comment, which would open as the office's reply.
func itemLegacy(id string) string {
	if !channel.ValidID(id) {
		return ""
	}
	return "item:" + id
}

// setting reads a setting, or returns def when it is not set.
func setting(ctx context.Context, tx store.Tx, name string, def []byte) ([]byte, error) {
	v, err := tx.Setting(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return def, nil
	}
	return v, err
}
