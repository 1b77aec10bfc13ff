// Package service holds the use cases of the dissent channel and is the only
// door to its data: the JSON API, the web pages, the CLI and background jobs
// all call it, and none of them decides on its own who may see what.
//
// Every method opens one transaction, checks the caller's right, calls the
// domain, seals what must be sealed, writes, and appends the audit event to
// the ledger in that same transaction: if the event cannot be written, the
// action fails. Plaintext memo contents and the link between a person and a
// memo exist only inside a call, and only for a caller entitled to them.
package service

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// Config is what the service needs to know about the deployment.
type Config struct {
	Profile     channel.Profile
	Calendar    *workdays.Calendar
	MaxBody     int
	SessionTTL  time.Duration // absolute session lifetime
	SessionIdle time.Duration // idle time-out
	// Origin names the deployment in ledger checkpoints, e.g. "dissent.example.gov".
	Origin string
	// LedgerKey is the note signer key that signs checkpoints.
	LedgerKey string
	// Witnesses are the verifier keys of the witnesses whose cosignatures
	// of checkpoints are published (witness.go).
	Witnesses []string
	// SignInLimit is how many failed sign-ins per username and hour are
	// allowed before further attempts are refused for a while.
	SignInLimit int
	// SignInAddressLimit is how many failed sign-ins an hour are allowed
	// from one address (an IPv4 address, an IPv6 /64) by devices that have
	// not signed in to the account before; 0 is
	// channel.DefaultSignInsPerAddress, -1 no limit.
	SignInAddressLimit int
	// Suppress is the smallest count published in figures.
	Suppress int
	// Reminders are the rules of reminders and escalation; nil means
	// DefaultReminders.
	Reminders *ReminderPolicy
}

// Service is the channel's use cases.
type Service struct {
	store store.Store
	// writersOverlap: the store runs write transactions side by side
	// (PostgreSQL), each statement seeing the latest commit; SQLite's
	// take turns (accountsUnchanged).
	writersOverlap bool
	cfg            Config
	passwords      *vault.Passwords
	log            *slog.Logger
	limiter        *limiter
	addrs          *limiter  // failed sign-ins per source address; nil: none
	fails          failTally // failed sign-ins not yet in the ledger (signinfails.go)
	// identities and offices keep live sessions' parsed identities and
	// office keys, keys the memo keys they unwrapped (idcache.go).
	identities, offices *identityCache
	keys                *keyCache
	tampered            atomic.Bool                      // a self-check on this node found the ledger damaged
	signed              atomic.Pointer[signedCheckpoint] // the last checkpoint this node signed
	// anchors are the public keys this node proved anchored in the
	// ledger, vkey the ledger public key it checked is its own (anchor.go).
	anchors anchorCache
	vkey    atomic.Pointer[string]
	// vouched is what this node found the memos' ledgers vouch for of
	// their keys (vouch.go).
	vouched vouchCache
	// names are users' names this node read lately, for views
	// (namecache.go).
	names *nameCache
	// follower reads the ledger as it grows for the entries that anchor
	// keys, so that a row pointed back at an account's earlier anchor is
	// refused; anchorOf is the key that seals whose keys an entry anchors
	// (anchor.go).
	follower anchorFollower
	anchorOf vault.Key
	// deviceKey authenticates device tokens (sessions.go).
	deviceKey vault.Key
	// unsealedAnchors writes anchors as releases before anchor_of did
	// (tests of upgrades, export_test.go).
	unsealedAnchors bool
	// caps are what one memo holds at most (channel.MaxAuthors and the
	// rest); tests lower them.
	caps memoCaps
	// writes are the write transactions under way (store.Tx to
	// *writeState); reads the read transactions under way (store.Tx to
	// the nameCache's mark when each began).
	writes, reads sync.Map
	// unanchored: keys without an anchor were found (CheckKeysAnchored,
	// or a key refused for having none). Unlike tampered it clears, once
	// Ready finds every key anchored: a node that starts while another
	// anchors the keys of an upgrade sees them for a moment.
	unanchored atomic.Bool
	// crypto admits submissions' crypto done before the write transaction
	// (presubmit.go), one fewer at a time than there are cores.
	crypto chan struct{}
	// Now is the clock; tests replace it.
	Now func() time.Time
}

// New returns a service over st.
func New(st store.Store, cfg Config, passwords *vault.Passwords, log *slog.Logger) *Service {
	if cfg.MaxBody <= 0 {
		cfg.MaxBody = channel.DefaultMaxBody
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SessionIdle <= 0 {
		cfg.SessionIdle = 30 * time.Minute
	}
	if cfg.SignInLimit <= 0 {
		cfg.SignInLimit = 10
	}
	if cfg.SignInAddressLimit == 0 {
		cfg.SignInAddressLimit = channel.DefaultSignInsPerAddress
	}
	if cfg.Suppress <= 0 {
		cfg.Suppress = 5
	}
	if log == nil {
		log = slog.Default()
	}
	return &Service{store: st, writersOverlap: st.Dialect() != "sqlite", cfg: cfg, passwords: passwords, log: log, limiter: newLimiter(cfg.SignInLimit, time.Hour),
		addrs:      newAddressLimiter(cfg.SignInAddressLimit),
		identities: newIdentityCache(20_000, cfg.SessionIdle), offices: newIdentityCache(1000, cfg.SessionIdle),
		keys: newKeyCache(100_000, cfg.SessionIdle), names: newNameCache(100_000), crypto: make(chan struct{}, max(1, runtime.GOMAXPROCS(0)-1)),
		anchorOf: anchorOfKey(cfg.LedgerKey), deviceKey: deriveKey(cfg.LedgerKey, "dissent device v1"), Now: time.Now,
		caps: memoCaps{authors: channel.MaxAuthors, revisions: channel.MaxRevisions, thread: channel.MaxThread}}
}

// memoCaps are the most one memo holds: drafters and signers, revisions,
// and messages or comments from its authors and readers (see channel).
type memoCaps struct{ authors, revisions, thread int }

// Config returns the deployment's configuration.
func (s *Service) Config() Config { return s.cfg }

// Ready reports whether the database answers and the ledger's last
// self-check, if any, passed.
func (s *Service) Ready(ctx context.Context) error {
	if err := s.store.Ping(ctx); err != nil {
		return err
	}
	if s.unanchored.Load() {
		if n, err := s.countUnanchored(ctx); err != nil {
			return err
		} else if n > 0 {
			return fmt.Errorf("service: %d public keys have no anchor in the ledger", n)
		}
		s.unanchored.Store(false)
	}
	return s.ledgerHealthy(ctx)
}

func (s *Service) now() time.Time { return s.Now().UTC().Truncate(time.Microsecond) }

// inTx runs fn in one transaction, committing if it returns nil.
func (s *Service) inTx(ctx context.Context, write bool, fn func(tx store.Tx) error) error {
	begin := func() (store.Tx, error) { return s.store.Begin(ctx, write) }
	return s.runTx(ctx, write, begin, fn)
}

// inIndexTx is inTx for a write transaction that writes the author index
// (store.Store.BeginIndex): it commits apart from every other.
func (s *Service) inIndexTx(ctx context.Context, fn func(tx store.Tx) error) error {
	return s.runTx(ctx, true, func() (store.Tx, error) { return s.store.BeginIndex(ctx) }, fn)
}

func (s *Service) runTx(ctx context.Context, write bool, begin func() (store.Tx, error), fn func(tx store.Tx) error) error {
	tx, err := begin()
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	if !write {
		// A read transaction's snapshot (SQLite's) begins at its first
		// statement: names read in it are kept only if none was forgotten
		// since here (nameBook.resolve).
		s.reads.Store(tx, s.names.mark())
		defer s.reads.Delete(tx)
		return fn(tx)
	}
	w := new(writeState)
	s.writes.Store(tx, w)
	defer s.writes.Delete(tx)
	if err := fn(tx); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if w.anchoredKeys {
		s.followCommitted(ctx)
	}
	for _, f := range w.committed {
		f()
	}
	return nil
}

// writeState is what a write transaction under way did that matters once
// it commits.
type writeState struct {
	anchoredKeys bool // it recorded an entry anchoring keys
	// committed are what the node learns once the transaction commits
	// (what it vouched for: keysVouched).
	committed []func()
}

// writing returns the state of tx if it is a write transaction.
func (s *Service) writing(tx store.Tx) (*writeState, bool) {
	w, ok := s.writes.Load(tx)
	if !ok {
		return nil, false
	}
	return w.(*writeState), true
}

// newID returns an opaque identifier: 128 random bits, base32. Identifiers
// are never sequential, so they leak no volumes.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
}

// storeErr turns store errors into channel errors callers can show.
func storeErr(err error, what string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return channel.ErrNotFound
	case errors.Is(err, store.ErrConflict):
		// Still wrapping ErrConflict, so that memoTx can tell a lost race,
		// which it retries, from a refusal.
		return fmt.Errorf("%w: %w", channel.Errorf(channel.ECONFLICT, "%s changed while you were working: reload and try again", what), store.ErrConflict)
	}
	return err
}

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(us int64) time.Time {
	if us == 0 {
		return time.Time{}
	}
	return time.UnixMicro(us).UTC()
}

func errInternal(format string, args ...any) error {
	return fmt.Errorf("service: "+format, args...)
}

func hexString(b []byte) string { return hex.EncodeToString(b) }
