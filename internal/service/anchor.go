package service

import (
	"bytes"
	"context"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Public keys anchored in the ledger.
//
// A memo key is wrapped to public keys read from the database, a
// signature is checked against one, and a new identity is sealed to the
// recovery key's. Someone who can write the database could put a key of
// theirs in a users row, in office.public or in recovery.public, and have
// what is wrapped or sealed meanwhile readable to them. So every public key
// the service makes is anchored: the ledger entry that records its making
// has the keys' hash (keysHash) as its content, the users row names that
// entry (keys_anchor; the settings office.anchor and recovery.anchor for
// the two group keys), and a checkpoint over it is signed in the same
// transaction. Before a key is
// used, its entry is read, its content compared and its inclusion proved
// against the latest checkpoint, verified with this node's own ledger key.
// A key that fails is not used: the request fails, the node logs at ERROR
// and stops reporting ready.
//
// To swap a key unseen, then, one must also add an entry for it to the
// ledger and sign a checkpoint over it, and that entry stays in every later
// checkpoint that receipts and witnesses hold. Each node remembers the keys
// it has proved, so a key's check costs a map lookup after its first use.
// Keys made before anchors existed are anchored once, at the upgrade
// (AnchorKeys); at any other start a key without an anchor is reported
// (CheckKeysAnchored).
//
// A row pointed back at an earlier anchor of the same account, with the
// keys that entry anchored, is refused too: each anchoring entry carries
// whose keys it anchors, sealed under a key derived from the ledger key
// (anchor_of), and a node follows the ledger as it grows (follow) to know
// each account's newest anchor. A key is used only if its entry is that.

// settingOfficeAnchor is the index of the entry anchoring office.public,
// settingRecoveryAnchor of the one anchoring recovery.public: every new
// identity's private keys are sealed to the recovery key, so a key of
// someone else's there would give them every account made meanwhile.
const (
	settingOfficeAnchor   = "office.anchor"
	settingRecoveryAnchor = "recovery.anchor"
	recoveryGroup         = "group:recovery" // the recovery key's subject in its anchor
)

// keysHash is what an anchoring entry's content commits to: the subject
// (a user id, or officeGroup), its name, and its public keys.
func keysHash(subject, username, box string, sign []byte) [32]byte {
	return ledger.KeyAnchorSum(subject, username, box, sign)
}

// anchorCache is the keys this node has proved anchored, by subject: the
// keys' hash and the entry that anchors them, both of which must be as
// proved for the proof to stand. It also holds, by subject, the entries
// the follower found that anchor that subject's keys: a proof of an entry
// older than one of those does not stand (an account's anchor pointed
// back), and is neither cached nor kept.
type anchorCache struct {
	mu     sync.Mutex
	proved map[string]provedAnchor
	known  map[string][]int64 // ascending
}

type provedAnchor struct {
	hash  [32]byte
	entry int64
	// again: the keys were made again after the account's first
	// (keysconfirm.go).
	again bool
}

// maxAnchors bounds the cache of proofs; past it, it starts again empty.
// The entries the follower found are kept: one or a few per account.
const maxAnchors = 100_000

// cached reports whether entry idx was proved to anchor subject's keys
// hashing to h, and whether they were made again.
func (c *anchorCache) cached(subject string, h [32]byte, idx int64) (again, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	got, ok := c.proved[subject]
	if !ok || got.hash != h || got.entry != idx {
		return false, false
	}
	return got.again, true
}

// knownOf returns the entries the follower found anchoring subject's keys.
func (c *anchorCache) knownOf(subject string) []int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.known[subject])
}

// put caches a proof, unless a newer anchor of subject is known.
func (c *anchorCache) put(subject string, a provedAnchor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if k := c.known[subject]; len(k) > 0 && k[len(k)-1] > a.entry {
		return
	}
	if c.proved == nil || len(c.proved) >= maxAnchors {
		c.proved = map[string]provedAnchor{}
	}
	c.proved[subject] = a
}

// learn records anchors the follower found, in ledger order, and drops
// the proofs they supersede.
func (c *anchorCache) learn(found []subjectAnchor) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.known == nil {
		c.known = map[string][]int64{}
	}
	for _, f := range found {
		k := c.known[f.subject]
		if len(k) > 0 && k[len(k)-1] >= f.entry {
			continue
		}
		c.known[f.subject] = append(k, f.entry)
		if p, ok := c.proved[f.subject]; ok && p.entry < f.entry {
			delete(c.proved, f.subject)
		}
	}
}

type subjectAnchor struct {
	subject string
	entry   int64
}

// anchorUser records ev, the making of u's keys, as the entry anchoring
// them and points u at it; the caller writes u and, before the
// transaction ends, signs a checkpoint (anchored does not take an entry
// that no checkpoint covers).
func (s *Service) anchorUser(ctx context.Context, tx store.Tx, u *store.User, ev event) error {
	h := keysHash(u.ID, u.Username, u.BoxPublic, u.SignPublic)
	ev.content, ev.anchorOf = h[:], u.ID
	idx, err := s.record(ctx, tx, ev)
	u.KeysAnchor = idx
	if w, ok := s.writing(tx); ok {
		w.anchoredKeys = true
	}
	return err
}

// checkUserKeys fails unless u's public keys are the ones the ledger
// anchors for u (see above).
func (s *Service) checkUserKeys(ctx context.Context, tx store.Tx, u *store.User) error {
	return s.anchored(ctx, tx, u.ID, keysHash(u.ID, u.Username, u.BoxPublic, u.SignPublic), u.KeysAnchor)
}

// officeBox returns the office's public key, once it is proved anchored,
// from settings read with settingOffice and settingOfficeAnchor; nil
// before the office is founded.
func (s *Service) officeBox(ctx context.Context, tx store.Tx, set map[string][]byte) ([]byte, error) {
	box, ok := set[settingOffice]
	if !ok {
		return nil, nil
	}
	return box, s.anchoredSetting(ctx, tx, officeGroup, box, set, settingOfficeAnchor)
}

// recoveryBox returns the recovery key's public key, once it is proved
// anchored.
func (s *Service) recoveryBox(ctx context.Context, tx store.Tx) (string, error) {
	set, err := tx.Settings(ctx, settingRecovery, settingRecoveryAnchor)
	if err != nil {
		return "", err
	}
	box, ok := set[settingRecovery]
	if !ok {
		return "", errInternal("the deployment has no recovery key")
	}
	return string(box), s.anchoredSetting(ctx, tx, recoveryGroup, box, set, settingRecoveryAnchor)
}

// isRecoveryKey refuses an identity, rebuilt from custodians' shares, that
// is not this deployment's anchored recovery key.
func (s *Service) isRecoveryKey(ctx context.Context, tx store.Tx, id *vault.Identity) error {
	box, err := s.recoveryBox(ctx, tx)
	if err != nil {
		return err
	}
	if box != id.Public().Box {
		return channel.Invalid("shares", "these shares rebuild a key that is not this deployment's recovery key")
	}
	return nil
}

// anchoredSetting proves box, a group's public key kept in a setting,
// anchored by the entry whose index the setting anchor holds.
func (s *Service) anchoredSetting(ctx context.Context, tx store.Tx, group string, box []byte, set map[string][]byte, anchor string) error {
	idx := int64(-1)
	if raw, ok := set[anchor]; ok {
		n, err := strconv.ParseInt(string(raw), 10, 64)
		if err != nil {
			return errInternal("the setting %s is not an entry index", anchor)
		}
		idx = n
	}
	return s.anchored(ctx, tx, group, keysHash(group, "", string(box), nil), idx)
}

// readOfficeBox is officeBox reading its settings itself.
func (s *Service) readOfficeBox(ctx context.Context, tx store.Tx) ([]byte, error) {
	set, err := tx.Settings(ctx, settingOffice, settingOfficeAnchor)
	if err != nil {
		return nil, err
	}
	return s.officeBox(ctx, tx, set)
}

// anchorOffice records the entry anchoring the office's public key box
// and points office.anchor at it.
func (s *Service) anchorOffice(ctx context.Context, tx store.Tx, box string) error {
	return s.anchorGroup(ctx, tx, "office.key", officeGroup, box, settingOfficeAnchor)
}

// anchorRecovery records the entry anchoring the recovery key's public key
// box and points recovery.anchor at it.
func (s *Service) anchorRecovery(ctx context.Context, tx store.Tx, box string) error {
	return s.anchorGroup(ctx, tx, "recovery.key", recoveryGroup, box, settingRecoveryAnchor)
}

func (s *Service) anchorGroup(ctx context.Context, tx store.Tx, action, group, box, anchor string) error {
	h := keysHash(group, "", box, nil)
	idx, err := s.record(ctx, tx, event{action: action, content: h[:], anchorOf: group})
	if err != nil {
		return err
	}
	if w, ok := s.writing(tx); ok {
		w.anchoredKeys = true
	}
	return tx.PutSetting(ctx, anchor, []byte(strconv.FormatInt(idx, 10)))
}

// groupKey is a public key kept in a setting, anchored.
type groupKey struct{ setting, anchor, action, subject string }

// groupKeys are the public keys kept in settings that are anchored.
var groupKeys = []groupKey{
	{settingOffice, settingOfficeAnchor, "office.key", officeGroup},
	{settingRecovery, settingRecoveryAnchor, "recovery.key", recoveryGroup},
}

// ErrAnchoredAlready is AnchorKeys' refusal on a ledger that anchors keys.
var ErrAnchoredAlready = errors.New("the ledger anchors keys already")

// ErrNotAnchored is in the error of a request refused because it would
// have used a public key the ledger does not anchor.
var ErrNotAnchored = errors.New("a public key in the database is not the one the ledger anchors")

// anchored checks that h, the hash of subject's public keys, is the
// content of ledger entry idx, and that the entry is in the latest
// checkpoint.
func (s *Service) anchored(ctx context.Context, tx store.Tx, subject string, h [32]byte, idx int64) error {
	_, err := s.anchoredAgain(ctx, tx, subject, h, idx)
	return err
}

// anchoredAgain is anchored that also reports whether the keys were made
// again after the account's first (keysconfirm.go).
func (s *Service) anchoredAgain(ctx context.Context, tx store.Tx, subject string, h [32]byte, idx int64) (bool, error) {
	if s.followFresh() {
		if again, ok := s.anchors.cached(subject, h, idx); ok {
			return again, nil
		}
	} else if _, writing := s.writing(tx); writing {
		// Proved again below, up to this transaction's checkpoint; the
		// follower itself moves on in a read transaction.
		s.followInBackground()
	}
	again, problem, err := s.proveAnchor(ctx, tx, subject, h, idx)
	if err != nil {
		return false, err // the store could not be read, or the keys changed meanwhile: no finding either way
	}
	if problem != "" {
		if idx < 0 {
			s.unanchored.Store(true) // cleared once every key is anchored (Ready)
		} else {
			s.tampered.Store(true)
		}
		s.log.Error("a public key in the database is not the one the ledger anchors: not used; find who changed it", "subject", subject, "entry", idx, "problem", problem)
		return false, errInternal("%w: %s: %s", ErrNotAnchored, subject, problem)
	}
	s.anchors.put(subject, provedAnchor{h, idx, again})
	return again, nil
}

// proveAnchor says what is wrong with entry idx as the anchor of
// subject's keys, hashing to h, or "" if nothing is, when it also reports
// whether the keys were made again after the account's first: by an
// entry whose action says so, or by any entry with an anchoring entry of
// the account's before it. Entries written before December 2026 carry no
// anchor_of and count as first keys. err is a failure to read the store,
// or errKeysChangedMeanwhile.
func (s *Service) proveAnchor(ctx context.Context, tx store.Tx, subject string, h [32]byte, idx int64) (again bool, problem string, err error) {
	if idx < 0 {
		return false, "no ledger entry anchors it", nil
	}
	l, cp, problem, err := s.checkpointedEntry(ctx, tx, idx)
	if problem != "" || err != nil {
		return false, problem, err
	}
	if !l.AnchorsKeys() || l.Content != hex.EncodeToString(h[:]) {
		return false, fmt.Sprintf("entry %d (%s) anchors other keys", idx, l.Action), nil
	}
	// The entry anchors these keys; it must also be the newest entry
	// that anchors this subject's keys, or the row was pointed back at
	// keys the account has since replaced.
	seen, problem, err := s.anchorsOf(ctx, tx, subject, cp)
	if problem != "" || err != nil {
		return false, problem, err
	}
	for _, e := range seen.entries {
		switch {
		case e <= idx:
		case e < seen.size:
			// On PostgreSQL the row naming idx may have been read before
			// the newer anchor was committed (each statement sees the
			// latest commit): if the row names another anchor now, its
			// keys changed meanwhile, which is a race, not a row pointed
			// back.
			if moved, err := anchorMoved(ctx, tx, subject, idx); err != nil {
				return false, "", err
			} else if moved {
				return false, "", errKeysChangedMeanwhile
			}
			return false, fmt.Sprintf("entry %d anchors keys this account has replaced since: entry %d anchors its newer ones", idx, e), nil
		default:
			// This node read a newer anchor that this transaction cannot
			// see: it began before the keys changed, or someone removed
			// checkpoints and leaves. Either way not these keys.
			s.log.Warn("a key's account has a newer anchor than the database now shows: refused; if this repeats, ledger rows or checkpoints were removed", "subject", subject, "entry", idx, "newer", e, "ledger size", seen.size)
			return false, "", errKeysChangedMeanwhile
		}
	}
	again = l.AnchorOf != "" && slices.Contains(reKeyActions, l.Action)
	for _, e := range seen.entries {
		again = again || e < idx
	}
	return again, "", nil
}

// errKeysChangedMeanwhile refuses keys whose account has newer ones that
// the request's transaction cannot see yet, or saw only after it read the
// account. A write transaction runs again (store.Retryable).
var errKeysChangedMeanwhile = fmt.Errorf("%w: %w", channel.Errorf(channel.ECONFLICT, "an account's keys changed while this request ran: try again"), store.ErrConflict)

// anchorMoved reports whether subject's keys are anchored now by another
// entry than idx: its row (an account) or its setting (a group's key),
// read again.
func anchorMoved(ctx context.Context, tx store.Tx, subject string, idx int64) (bool, error) {
	for _, g := range groupKeys {
		if g.subject == subject {
			raw, err := tx.Setting(ctx, g.anchor)
			if errors.Is(err, store.ErrNotFound) {
				return idx >= 0, nil
			} else if err != nil {
				return false, err
			}
			return string(raw) != strconv.FormatInt(idx, 10), nil
		}
	}
	u, err := tx.UserByID(ctx, subject)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return u.KeysAnchor != idx, nil
}

// seenAnchors are the entries a node can see anchoring a subject's keys,
// ascending, and the ledger's size in the transaction.
type seenAnchors struct {
	entries []int64
	size    int64
}

// anchorsOf returns the entries that anchor subject's keys: those the
// follower learned, those up to checkpoint cp that it finds now (follow),
// and those in leaves past cp. Leaves past the latest checkpoint are
// vouched for by none, but their anchor_of is authenticated under the
// ledger key, so each is an anchor some node wrote; and a node signs a
// checkpoint over every anchor in the transaction that records it, so
// one past the latest checkpoint means checkpoints were removed. They
// serve only to refuse.
func (s *Service) anchorsOf(ctx context.Context, tx store.Tx, subject string, cp ledger.Checkpoint) (seen seenAnchors, problem string, err error) {
	found, problem, err := s.follow(ctx, tx, cp)
	if problem != "" || err != nil {
		return seen, problem, err
	}
	if seen.size, err = ledgerSize(ctx, tx); err != nil {
		return seen, "", err
	} else if seen.size < cp.Size {
		return seen, fmt.Sprintf("the ledger has %d entries, fewer than the latest checkpoint's %d", seen.size, cp.Size), nil
	}
	tail, problem, err := s.sealedAnchorsIn(ctx, tx, cp.Size, seen.size)
	if problem != "" || err != nil {
		return seen, problem, err
	}
	entries := s.anchors.knownOf(subject)
	for _, f := range append(found, tail...) {
		if f.subject == subject {
			entries = append(entries, f.entry)
		}
	}
	slices.Sort(entries)
	seen.entries = slices.Compact(entries)
	return seen, "", nil
}

// sealedAnchorsIn returns the anchoring entries with anchor_of among
// leaves [from, to), as read, with whose keys each anchors.
func (s *Service) sealedAnchorsIn(ctx context.Context, tx store.Tx, from, to int64) ([]subjectAnchor, string, error) {
	var out []subjectAnchor
	ls := tx.LedgerStorage("", "")
	for lo := from; lo < to; lo += 1024 {
		hi := min(lo+1024, to)
		leaves, err := ls.ReadLeaves(ctx, lo, hi)
		if errors.Is(err, ledger.ErrRange) {
			return nil, fmt.Sprintf("leaves of [%d, %d) are missing: %v", lo, hi, err), nil
		} else if err != nil {
			return nil, "", err
		}
		for i, leaf := range leaves {
			a, problem := s.sealedAnchor(leaf, lo+int64(i))
			if problem != "" {
				return nil, problem, nil
			}
			if a != nil {
				out = append(out, *a)
			}
		}
	}
	return out, "", nil
}

// mayTellWhose reports whether leaf may be an anchoring entry that says
// whose keys it anchors: one with anchor_of, or one anchoring the
// office's or the recovery key, whose action says so.
func mayTellWhose(leaf []byte) bool {
	return bytes.Contains(leaf, []byte(`"anchor_of":"`)) ||
		bytes.Contains(leaf, []byte(`"action":"office.key"`)) || bytes.Contains(leaf, []byte(`"action":"recovery.key"`))
}

// sealedAnchor returns whose keys leaf number idx anchors, if it is an
// anchoring entry that says (mayTellWhose); problem says if its anchor_of
// does not open with this node's key.
func (s *Service) sealedAnchor(leaf []byte, idx int64) (*subjectAnchor, string) {
	if !mayTellWhose(leaf) {
		return nil, ""
	}
	l, err := ledger.DecodeLeaf(leaf)
	if err != nil || !l.AnchorsKeys() {
		return nil, ""
	}
	if l.AnchorOf == "" {
		// Written before anchor_of: only the group keys' say whose.
		switch l.Action {
		case "office.key":
			return &subjectAnchor{officeGroup, idx}, ""
		case "recovery.key":
			return &subjectAnchor{recoveryGroup, idx}, ""
		}
		return nil, ""
	}
	subject, ok := s.openAnchorOf(l)
	if !ok {
		return nil, fmt.Sprintf("entry %d: its anchor_of does not open with this node's key", idx)
	}
	return &subjectAnchor{subject, idx}, ""
}

// checkpointedEntry reads ledger entry idx and proves it included in the
// latest checkpoint, verified with this node's own ledger key. It returns
// the entry and the checkpoint, or what is wrong; err is a failure to read
// the store.
func (s *Service) checkpointedEntry(ctx context.Context, tx store.Tx, idx int64) (l ledger.Leaf, cp ledger.Checkpoint, problem string, err error) {
	_, cp, problem, err = s.ownLatest(ctx, tx)
	if problem != "" || err != nil {
		return l, cp, problem, err
	}
	if idx >= cp.Size {
		return l, cp, fmt.Sprintf("entry %d is not in the latest checkpoint, of %d entries", idx, cp.Size), nil
	}
	leaf, proof, err := entryProof(ctx, tx, idx, cp.Size)
	if errors.Is(err, ledger.ErrRange) {
		return l, cp, fmt.Sprintf("entry %d: %v", idx, err), nil // a row of the ledger is gone
	} else if err != nil {
		return l, cp, "", err
	}
	if l, err = ledger.DecodeLeaf(leaf); err != nil {
		return l, cp, fmt.Sprintf("entry %d: %v", idx, err), nil
	}
	if err := ledger.VerifyInclusion(leaf, idx, proof, cp); err != nil {
		return l, cp, err.Error(), nil
	}
	return l, cp, "", nil
}

// anchorFollower is the ledger read as it grows, for the entries that
// anchor keys (follow).
type anchorFollower struct {
	mu      sync.Mutex
	f       ledger.Follower
	last    atomic.Int64 // when it last caught up (the service's clock), in Unix microseconds
	running atomic.Bool  // a catching up in the background is under way
}

// followEvery is how long a node trusts what it learned from the ledger's
// anchoring entries: past it, a proof it holds is made again before use
// (followFresh).
const followEvery = 5 * time.Second

// follow reads, in tx, the ledger's leaves from where this node's
// follower stands up to checkpoint cp, verified against cp's root without
// trusting any stored hash, and returns the anchoring entries among them
// that say whose keys they anchor (mayTellWhose), with whose. In a read
// transaction the follower moves on to cp and learns them. A write
// transaction's view holds leaves of its own not yet committed, which
// must not be taken for the ledger's: there the entries only serve the
// caller. problem says what is wrong with the ledger; err is a failure
// to read the store.
//
// The caller holds its connection before it waits for the follower, and
// whoever holds the follower holds a connection already, so waiting for
// one another cannot exhaust a pool.
func (s *Service) follow(ctx context.Context, tx store.Tx, cp ledger.Checkpoint) (found []subjectAnchor, problem string, err error) {
	s.follower.mu.Lock()
	defer s.follower.mu.Unlock()
	f := s.follower.f // a copy
	kept, err := f.Extend(ctx, tx.LedgerStorage("", ""), cp, mayTellWhose)
	if errors.Is(err, ledger.ErrTampered) {
		return nil, "reading the ledger for the entries that anchor keys: " + err.Error(), nil
	} else if err != nil {
		return nil, "", err
	}
	for _, e := range kept {
		a, problem := s.sealedAnchor(e.Leaf, e.Index)
		if problem != "" {
			return nil, problem, nil
		}
		if a != nil {
			found = append(found, *a)
		}
	}
	if _, writing := s.writing(tx); !writing {
		s.follower.f = f
		s.anchors.learn(found)
		s.follower.last.Store(s.now().UnixMicro())
	}
	return found, "", nil
}

// followLatest is follow, in a read transaction of its own, up to the
// latest checkpoint.
func (s *Service) followLatest(ctx context.Context) (problem string, err error) {
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		if _, _, err := tx.LatestCheckpoint(ctx); errors.Is(err, store.ErrNotFound) {
			return nil // a deployment not set up yet: nothing to follow
		}
		var cp ledger.Checkpoint
		var err error
		if _, cp, problem, err = s.ownLatest(ctx, tx); problem != "" || err != nil {
			return err
		}
		_, problem, err = s.follow(ctx, tx, cp)
		return err
	})
	return problem, err
}

// followFresh reports whether this node caught up with the ledger's
// anchoring entries less than followEvery ago. Past that, a proof it
// holds is made again before it is used: another node may have replaced
// the key since. A node learns of its own replacements as they commit
// (followCommitted).
func (s *Service) followFresh() bool {
	return s.now().Sub(time.UnixMicro(s.follower.last.Load())) < followEvery
}

// followInBackground catches up with the ledger in a read transaction
// of its own, unless that is under way.
func (s *Service) followInBackground() {
	if !s.follower.running.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer s.follower.running.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := s.FollowAnchors(ctx); err != nil {
			s.log.Warn("could not follow the ledger for the entries that anchor keys", "error", err)
		}
	}()
}

// followFailed reports a ledger that does not match its checkpoint: the
// node stops reporting ready and the request fails.
func (s *Service) followFailed(problem string, err error) error {
	if problem == "" {
		return err
	}
	s.tampered.Store(true)
	s.log.Error("the ledger's entries that anchor keys could not be read as the latest checkpoint signs them", "problem", problem)
	return errInternal("%w: %s", ErrNotAnchored, problem)
}

// FollowAnchors reads the ledger up to its latest checkpoint for the
// entries that anchor keys. A node does it at start, in the background,
// so that its first proofs need not read the whole ledger; it is done
// again before each proof and after each transaction of this node's that
// anchored keys, reading only what is new.
func (s *Service) FollowAnchors(ctx context.Context) error {
	return s.followFailed(s.followLatest(ctx))
}

// followCommitted follows the ledger after a transaction that anchored
// keys committed, so that the proofs of the keys it replaced are dropped
// at once. A failure is logged: the next proof follows again.
func (s *Service) followCommitted(ctx context.Context) {
	if err := s.FollowAnchors(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("could not follow the ledger after anchoring keys", "error", err)
	}
}

// anchorOfKey is the key that seals anchor_of, derived from the ledger's
// signing key: every node of the deployment holds it, nobody with only
// the database does, and it is never rotated (OPERATIONS.md).
func anchorOfKey(ledgerKey string) vault.Key { return deriveKey(ledgerKey, "dissent anchor_of v1") }

// deriveKey derives a key for one purpose, named by info, from the
// ledger's signing key.
func deriveKey(ledgerKey, info string) vault.Key {
	raw, err := hkdf.Key(sha256.New, []byte(ledgerKey), nil, info, len(vault.Key{}))
	if err != nil {
		panic("service: HKDF refused a 32-byte key: " + err.Error())
	}
	return vault.Key(raw)
}

// sealAnchorOf seals subject for an anchoring entry whose content is
// content (hex).
func (s *Service) sealAnchorOf(subject, content string) string {
	return hex.EncodeToString(vault.Seal(s.anchorOf, vault.AD("anchor_of", content), []byte(subject)))
}

// openAnchorOf returns whose keys l anchors.
func (s *Service) openAnchorOf(l ledger.Leaf) (string, bool) {
	raw, err := hex.DecodeString(l.AnchorOf)
	if err != nil {
		return "", false
	}
	subject, err := vault.Open(s.anchorOf, vault.AD("anchor_of", l.Content), raw)
	return string(subject), err == nil
}

// ownLatest returns the latest stored checkpoint, verified with this
// node's own ledger key, or what is wrong with it.
func (s *Service) ownLatest(ctx context.Context, tx store.Tx) (note []byte, cp ledger.Checkpoint, problem string, err error) {
	vkey, problem, err := s.ownLedgerVKey(ctx, tx)
	if problem != "" || err != nil {
		return nil, cp, problem, err
	}
	_, note, err = tx.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return nil, cp, "the ledger has no signed checkpoint", nil
	} else if err != nil {
		return nil, cp, "", err
	}
	if cp, err = ledger.OpenCheckpoint(note, vkey); err != nil {
		return nil, cp, fmt.Sprintf("the latest checkpoint: %v", err), nil
	}
	return note, cp, "", nil
}

// ownLedgerVKey returns the ledger's public key from the database once it
// is checked to be this node's key's (a key put there by someone else
// would let them sign checkpoints that anchor anything), or the problem.
func (s *Service) ownLedgerVKey(ctx context.Context, tx store.Tx) (vkey, problem string, err error) {
	raw, err := tx.Setting(ctx, settingLedgerVKey)
	if err != nil {
		return "", "", err
	}
	vkey = string(raw)
	if p := s.vkey.Load(); p != nil && *p == vkey {
		return vkey, "", nil
	}
	if err := ledger.CheckKeyPair(s.cfg.LedgerKey, vkey); err != nil {
		return "", "the ledger's public key in the database is not this node's ledger key's", nil
	}
	s.vkey.Store(&vkey)
	return vkey, "", nil
}

// AnchorKeys anchors the public keys that no entry anchors yet, as the
// database holds them now, with a user.keys_anchored entry for each
// account and office.key and recovery.key entries for the group keys. It
// is for the keys made before December 2026, and trusts the database: it
// runs in the process that applies migration 0007 (serve or dissent
// migrate), or when an operator asks (`dissent keys anchor
// --trust-database`), never on its own at a later start, and only on a
// ledger that anchors no key yet: once any is anchored, every key is
// anchored as it is made, and one without an anchor is someone's doing
// (CheckKeysAnchored). It returns how many it anchored.
func (s *Service) AnchorKeys(ctx context.Context) (int, error) {
	n := 0
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		n = 0
		// The ledger's lock first: nodes starting together then take
		// turns, and each reads the accounts after the last one's anchors
		// committed, instead of anchoring the same ones and failing on
		// the rows the other changed.
		if _, err := tx.LedgerStorage("", "").LockedSize(ctx); err != nil {
			return err
		}
		users, err := tx.UsersWithoutAnchor(ctx)
		if err != nil {
			return err
		}
		set, err := tx.Settings(ctx, settingOffice, settingOfficeAnchor, settingRecovery, settingRecoveryAnchor)
		if err != nil {
			return err
		}
		var groups []groupKey
		for _, g := range groupKeys {
			if _, ok := set[g.setting]; ok {
				if _, ok := set[g.anchor]; !ok {
					groups = append(groups, g)
				}
			}
		}
		if len(users) == 0 && len(groups) == 0 {
			return nil
		}
		// A deployment whose ledger anchors any key has anchored every key
		// since it was made or upgraded: one without an anchor now was
		// changed by someone, and must not be trusted as it stands.
		if idx, err := s.firstAnchor(ctx, tx); err != nil {
			return err
		} else if idx >= 0 {
			return fmt.Errorf("%w (entry %d), so keys are anchored as they are made; refusing to anchor the keys the database holds now. A key without an anchor was changed by someone with the database: put it back from a backup", ErrAnchoredAlready, idx)
		}
		for _, u := range users {
			if err := s.anchorUser(ctx, tx, u, event{action: "user.keys_anchored", subject: u.ID}); err != nil {
				return err
			}
			if err := tx.UpdateUser(ctx, u); err != nil {
				return err
			}
			n++
		}
		for _, g := range groups {
			if err := s.anchorGroup(ctx, tx, g.action, g.subject, string(set[g.setting]), g.anchor); err != nil {
				return err
			}
			n++
		}
		_, err = s.checkpoint(ctx, tx)
		return err
	})
	return n, err
}

// firstAnchor returns the index of the ledger's first entry that anchors
// keys, or -1. It reads every leaf, each checked against its stored hash,
// so that an anchoring entry cannot be hidden by rewriting its leaf
// without also rewriting the tree, which no checkpoint would then match.
func (s *Service) firstAnchor(ctx context.Context, tx store.Tx) (int64, error) {
	size, err := ledgerSize(ctx, tx)
	if err != nil {
		return 0, err
	}
	ls := tx.LedgerStorage("", "")
	const chunk = 1024
	for from := int64(0); from < size; from += chunk {
		to := min(from+chunk, size)
		leaves, err := ls.ReadLeaves(ctx, from, to)
		if err != nil {
			return 0, err
		}
		indexes := make([]int64, len(leaves))
		for i := range leaves {
			indexes[i] = tlog.StoredHashIndex(0, from+int64(i))
		}
		hashes, err := ls.ReadHashes(ctx, indexes)
		if err != nil {
			return 0, err
		}
		for i, leaf := range leaves {
			if tlog.RecordHash(leaf) != hashes[i] {
				return 0, fmt.Errorf("%w: ledger entry %d does not match its stored hash", ErrNotAnchored, from+int64(i))
			}
			if !bytes.Contains(leaf, []byte(`"content":"`)) {
				continue
			}
			if l, err := ledger.DecodeLeaf(leaf); err == nil && l.AnchorsKeys() {
				return from + int64(i), nil
			}
		}
	}
	return -1, nil
}

// CheckKeysAnchored counts the public keys that no ledger entry anchors:
// accounts with keys whose keys_anchor is unset, and the office's and
// recovery key without their anchor settings. Outside an upgrade there
// should be none: each one is logged at ERROR, the node stops reporting
// ready until none is left, and the service refuses to use the key.
func (s *Service) CheckKeysAnchored(ctx context.Context) (int, error) {
	n, err := s.countUnanchored(ctx)
	if n > 0 {
		s.unanchored.Store(true)
		s.log.Error("public keys without an anchor in the ledger: they will not be used. After an upgrade from a release before December 2026 that did not anchor them, run `dissent keys anchor --trust-database` once; otherwise someone changed the database: find who", "keys", n)
	}
	return n, err
}

// countUnanchored counts the public keys no anchor setting or column names.
func (s *Service) countUnanchored(ctx context.Context) (int, error) {
	n := 0
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		users, err := tx.UsersWithoutAnchor(ctx)
		if err != nil {
			return err
		}
		n = len(users)
		set, err := tx.Settings(ctx, settingOffice, settingOfficeAnchor, settingRecovery, settingRecoveryAnchor)
		if err != nil {
			return err
		}
		for _, g := range groupKeys {
			if _, ok := set[g.setting]; ok {
				if _, ok := set[g.anchor]; !ok {
					n++
				}
			}
		}
		return nil
	})
	return n, err
}
