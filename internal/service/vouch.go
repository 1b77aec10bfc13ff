package service

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"maps"
	"strconv"
	"sync"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// keysVouched refuses, as tampering, a memo key that the memo's own ledger
// does not vouch for, or a memo whose key version is not the newest one
// its ledger made. age proves nothing about who wrapped a key, so without
// this anyone who writes the database could wrap a key of their own to the
// office's public key (or mail it to an author), as a new version or in
// place of the first, with a roster and text sealed under it, and read
// what the office and the authors write next; or put the version back to
// one a removed reader holds.
//
// Every key version is made with an entry whose detail is sealed under
// it: the first by the memo's creation (memo.create, an author's event,
// whose detail names the author), each later one by the office's removal
// of a reader (memo.revoke, rotate). A key that opens that detail is the
// one made; the newest version made is the highest such removal's (the
// detail's version is kept in the clear beside it, and the leaf commits to
// the detail by hash). Someone who writes the database would now need
// entries in the ledger too, which the memo's history shows its authors
// and the office, and which the witnesses' checkpoints keep.
//
// The same reading of the history checks the memo's row: its state and
// the times of its steps (lifecycle.go).
//
// A node remembers what it vouched for (vouchCache), so that opening a
// memo again reads its history only when that grew since (MemoLatest), or
// its keys or version moved. The memo's latest entry is kept in o, for
// signaturesStand to tell whether the history presubmit read still holds.
func (s *Service) keysVouched(ctx context.Context, tx store.Tx, o *opened) error {
	memoID, current, keys := o.rec.ID, o.rec.KeyVersion, o.keys
	if len(keys) == 0 {
		return nil
	}
	latest, err := tx.MemoLatest(ctx, memoID)
	if err != nil {
		return err
	}
	o.latest, o.latestKnown = latest, true
	row := rowSteps(o.rec)
	if s.vouched.covers(memoID, current, latest, keys, row) {
		return nil
	}
	entries, err := o.memoLedger(ctx, tx)
	if err != nil {
		return err
	}
	made, newest, madeAt, err := s.madeKeys(ctx, tx, memoID, entries, keys)
	if err != nil {
		return err
	}
	for kv := range keys {
		if !made[kv] {
			return s.unvouched(ctx, tx, o, kv, "no entry of the memo's ledger made it")
		}
	}
	if current != newest {
		return s.unvouched(ctx, tx, o, current, "the memo's ledger made version "+strconv.Itoa(newest)+" last")
	}
	led, err := ledgerSteps(entries)
	if err != nil {
		return err
	}
	if why := led.disagreement(row); why != "" {
		return s.refuseMemo(ctx, tx, o, "a memo's row says other than its ledger of where it is: refused; find who wrote the memo's row", why)
	}
	// What a write transaction vouched for is remembered once it commits:
	// it read other members' writes of its group (sqlstore's group
	// commit), which a failed commit takes back, and the version floor
	// never goes down.
	kept := maps.Clone(keys)
	put := func() { s.vouched.put(memoID, current, latest, madeAt, kept, row) }
	if w, ok := s.writing(tx); ok {
		w.committed = append(w.committed, put)
	} else {
		put()
	}
	return nil
}

// keyVouched reports whether key is the one the memo's ledger made as
// version kv: for a key mailed to an author that differs from the one
// their index holds.
func (s *Service) keyVouched(ctx context.Context, tx store.Tx, memoID string, kv int, key vault.Key) (bool, error) {
	entries, err := tx.MemoLedger(ctx, memoID)
	if err != nil {
		return false, err
	}
	made, _, _, err := s.madeKeys(ctx, tx, memoID, entries, memoKeys{kv: key})
	return made[kv], err
}

// madeKeys finds in the memo's ledger entries the versions of keys they
// made (whose making entry's detail opens under them), the newest version
// made and the entry that made it (-1: the memo's creation).
func (s *Service) madeKeys(ctx context.Context, tx store.Tx, memoID string, entries []store.LedgerEntry, keys memoKeys) (made map[int]bool, newest int, madeAt int64, err error) {
	// A removal re-filed in the database as one of the memo's reads would
	// be missing here, and with it the version it made: the memo's reads
	// are checked for it (an index range, read only when the memo's
	// history grew). One re-filed under another memo would take a scan of
	// the ledger from the memo's first entry on (MemoLeafFiledElsewhere),
	// too much for an opening: the versions this node saw made stand
	// (vouchCache.floor), and a rotation or the ledger's self-check finds
	// the rest.
	if bad, err := tx.MemoMisfiledRead(ctx, memoID); err != nil {
		return nil, 0, 0, err
	} else if bad >= 0 {
		s.tampered.Store(true)
		return nil, 0, 0, errInternal("ledger entry %d of memo %s is filed as a read", bad, memoID)
	}
	made, newest, madeAt = map[int]bool{}, 1, -1
	for _, e := range entries {
		if len(e.Detail) < 4 {
			continue
		}
		l, err := ledger.DecodeLeaf(e.Data)
		if err != nil {
			return nil, 0, 0, errInternal("ledger leaf %d: %w", e.Index, err)
		}
		kv := int(binary.BigEndian.Uint32(e.Detail))
		switch {
		case l.Action == "memo.create" && kv == 1:
		case l.Action == "memo.revoke" && kv > 1:
			if kv > newest {
				newest, madeAt = kv, e.Index
			}
		default:
			continue
		}
		var d readersStep
		if _, held := keys[kv]; held && !made[kv] && openDetail(keys, memoID, l, e.Detail, &d) {
			made[kv] = true
		}
	}
	if f := s.vouched.floorOf(memoID); f.version > newest {
		// This node saw a newer version made, by entry f.entry, which the
		// history read here lacks. If the transaction's view of the
		// ledger ends before that entry (it began before the entry was
		// appended: on SQLite a read keeps one snapshot, older than what
		// a request since showed this node), it is a race: run again.
		// Otherwise the entry was hidden from the memo's history.
		size, err := ledgerSize(ctx, tx)
		if err != nil {
			return nil, 0, 0, err
		}
		if f.entry >= size {
			return nil, 0, 0, storeErr(store.ErrConflict, "the memo")
		}
		newest, madeAt = f.version, f.entry
	}
	return made, newest, madeAt, nil
}

func (s *Service) unvouched(ctx context.Context, tx store.Tx, o *opened, kv int, why string) error {
	return s.refuseMemo(ctx, tx, o, "a memo key its ledger does not vouch for: refused; find who wrote the memo's row, its access rows or mail",
		"key version "+strconv.Itoa(kv)+": "+why)
}

// refuseMemo refuses o as tampering, where what the database holds of it
// says other than its ledger (why): logged (msg), and this node stops
// reporting ready. Unless o's row changed since it was read, which is a
// race with another node's step: the transaction runs again (rowStill).
func (s *Service) refuseMemo(ctx context.Context, tx store.Tx, o *opened, msg, why string) error {
	if err := s.rowStill(ctx, tx, o); err != nil {
		return err
	}
	s.tampered.Store(true)
	s.log.Error(msg, "memo", o.rec.ID, "problem", why)
	return errInternal("memo %s: %s", o.rec.ID, why)
}

// rowStill answers store.ErrConflict, for the transaction to run again,
// if the memo's row changed since o read it. On PostgreSQL each statement
// sees the latest commit: a row read before another node's change (a
// reader removed, a signature taken back) and a ledger read after it
// disagree, as they would if someone had written the database, and such
// a race must not be taken for tampering, which takes the node out of
// service (Ready). A row that changed is read again; one that did not is
// the row the ledger is checked against.
func (s *Service) rowStill(ctx context.Context, tx store.Tx, o *opened) error {
	if o.rec.Version == 0 {
		return nil // not a memo's row (a stand-in)
	}
	v, err := tx.MemoVersion(ctx, o.rec.ID)
	if err != nil {
		return err
	}
	if v != o.rec.Version {
		return storeErr(store.ErrConflict, "the memo")
	}
	return nil
}

// vouchCache remembers, per memo, the version a node found newest, the
// memo's latest entry then, and the hashes of the keys its ledger vouched
// for. It holds no key. An entry holds while the memo's history has no
// entry after that one: a rotation on any node appends one, and moving the
// latest elsewhere changes it, so the next opening reads the history again
// (madeKeys), where a version set back below the floor, or a removal
// re-filed as a read, is refused. It is bounded: when full it starts again.
type vouchCache struct {
	mu sync.Mutex
	m  map[string]vouchedKeys
	// floor is, per memo rotated, the newest key version this node found
	// made, and the entry that made it: it never goes down, so that
	// entries hidden from the memo's history afterwards cannot set the
	// memo back to an older version here.
	floor map[string]floorMark
}

type floorMark struct {
	version int
	entry   int64
}

type vouchedKeys struct {
	newest int
	latest int64
	keys   map[int][32]byte
	steps  steps // the row's lifecycle, which the history vouched for
}

const vouchCacheSize = 20_000

func keyHash(k vault.Key) [32]byte { return sha256.Sum256(k[:]) }

// covers reports whether every key in keys, current as the newest
// version, and row as the memo's steps were vouched for before.
func (c *vouchCache) covers(memoID string, current int, latest int64, keys memoKeys, row steps) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[memoID]
	if !ok || v.newest != current || v.latest != latest || v.steps != row {
		return false
	}
	for kv, k := range keys {
		if h, ok := v.keys[kv]; !ok || h != keyHash(k) {
			return false
		}
	}
	return true
}

// floorOf is the newest version this node found made for memoID, and the
// entry that made it, or the zero floorMark.
func (c *vouchCache) floorOf(memoID string) floorMark {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.floor[memoID]
}

func (c *vouchCache) put(memoID string, newest int, latest, madeAt int64, keys memoKeys, row steps) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if newest > 1 && newest > c.floor[memoID].version {
		if c.floor == nil || len(c.floor) >= vouchCacheSize {
			c.floor = make(map[string]floorMark)
		}
		c.floor[memoID] = floorMark{version: newest, entry: madeAt}
	}
	if c.m == nil || len(c.m) >= vouchCacheSize {
		c.m = make(map[string]vouchedKeys)
	}
	v := c.m[memoID]
	if v.newest != newest || v.latest != latest || v.steps != row || v.keys == nil {
		v = vouchedKeys{newest: newest, latest: latest, steps: row, keys: make(map[int][32]byte, len(keys))}
	}
	for kv, k := range keys {
		v.keys[kv] = keyHash(k)
	}
	c.m[memoID] = v
}
