// Package store defines what the service layer asks of a database, and the
// records it keeps. Two real implementations live beside it (sqlite and
// postgres); both run the conformance suite in storetest.
//
// A store never decides who may see what, and never sees plaintext memo
// contents or the link between a person and a memo: the service seals those
// before they reach a store.
package store

import (
	"context"
	"errors"

	"golang.org/x/mod/sumdb/tlog"
)

// Sentinel errors every implementation returns for the same situations.
var (
	ErrNotFound = errors.New("store: not found")
	ErrConflict = errors.New("store: conflict") // a unique key exists, or an optimistic version is stale
)

// Retryable reports whether err says that a write transaction lost a race
// and may succeed if run again from the start: ErrConflict, or the
// database's report of a deadlock or a serialization failure (SQLSTATE
// 40P01 or 40001, as PostgreSQL's errors give it), which ends the
// transaction.
func Retryable(err error) bool {
	if errors.Is(err, ErrConflict) {
		return true
	}
	var e interface{ SQLState() string }
	return errors.As(err, &e) && (e.SQLState() == "40P01" || e.SQLState() == "40001")
}

// Store is a database. Each service call runs in one transaction.
type Store interface {
	// Begin starts a transaction. A write transaction takes the writer lock
	// at once (SQLite: BEGIN IMMEDIATE), so that it never fails half way
	// because another writer came first. ctx bounds the wait to begin; once
	// begun, a statement that has started runs to its end, and after ctx
	// ends the next one fails with ctx's error.
	Begin(ctx context.Context, write bool) (Tx, error)
	// BeginIndex starts a write transaction that may write the author
	// index (PutIndexEntry), the only kind that may: it shares its commit
	// with no other transaction. Rows committed together can be tied to
	// one another by whoever holds the database files (WAL frames,
	// PostgreSQL's xmin), and an author-index row must not be tied that way
	// to another transaction's rows that name a person.
	BeginIndex(ctx context.Context) (Tx, error)
	Ping(ctx context.Context) error
	Close() error
	// Dialect names the implementation ("sqlite", "postgres").
	Dialect() string
}

// Tx is one transaction. After Commit or Rollback it must not be used.
// Rollback after Commit is a no-op, so `defer tx.Rollback()` is always safe.
//
// A write that only stores (WriteLeaf, PutLedgerDetail, PutCheckpoint,
// PutAccess, AddNotification(s)) may report its failure late: from a later
// call of the same transaction or from Commit, never after Commit returns
// nil. Once a call has failed so, every later call and Commit fail with it
// and the transaction commits nothing (a PostgreSQL store pipelines such
// writes; see sqlstore's pipe.go).
type Tx interface {
	Commit() error
	Rollback() error

	// Users.
	CreateUser(ctx context.Context, u *User) error
	UpdateUser(ctx context.Context, u *User) error // optimistic on u.Version; bumps it
	UserByID(ctx context.Context, id string) (*User, error)
	// UsersWithoutAnchor returns the users with public keys that no ledger
	// entry anchors (KeysAnchor < 0), oldest first.
	UsersWithoutAnchor(ctx context.Context) ([]*User, error)
	// UsersAwaitingConfirmation returns the users whose keys await the
	// channel office's confirmation (KeysConfirmed ==
	// KeysAwaitConfirmation), by username.
	UsersAwaitingConfirmation(ctx context.Context) ([]*User, error)
	// UsersWithRole returns the users who are not disabled and hold
	// role, by username.
	UsersWithRole(ctx context.Context, role string) ([]*User, error)
	UserByUsername(ctx context.Context, username string) (*User, error)
	UsersByUsernames(ctx context.Context, usernames []string) ([]*User, error) // in the order asked; ErrNotFound if any is missing
	UsersByIDs(ctx context.Context, ids []string) ([]*User, error)
	// UserNames returns the names of the users with these ids, without the
	// rest of their rows (keys, password hash); unknown ids are left out.
	UserNames(ctx context.Context, ids []string) (map[string]UserName, error)
	// SignKeys returns the signing keys of the users with these ids, in the
	// order asked, without the rest of their rows: checking a memo's 51
	// signatures reads 51 keys, not 51 accounts. ErrNotFound if any is
	// missing.
	SignKeys(ctx context.Context, ids []string) ([]SignKey, error)
	// ListUsers lists users whose username or display name contains q
	// (case-insensitive), ordered by username, after the given username.
	ListUsers(ctx context.Context, q, after string, limit int) ([]*User, error)
	CountUsers(ctx context.Context) (int, error)

	// Sessions.
	CreateSession(ctx context.Context, s *Session) error
	SessionByID(ctx context.Context, id []byte) (*Session, error)
	TouchSession(ctx context.Context, id []byte, idleUntil int64) error
	DeleteSession(ctx context.Context, id []byte) error
	DeleteExpiredSessions(ctx context.Context, now int64) (int, error)

	// Settings are small named values: the distribution, public keys.
	Setting(ctx context.Context, name string) ([]byte, error)
	// Settings returns several named values at once; a name not set is
	// absent from the map.
	Settings(ctx context.Context, names ...string) (map[string][]byte, error)
	PutSetting(ctx context.Context, name string, value []byte) error

	// Group keys: a group's private key wrapped to each member.
	PutGroupKey(ctx context.Context, g *GroupKey) error
	GroupKey(ctx context.Context, group, userID string) (*GroupKey, error)
	GroupKeys(ctx context.Context, group string) ([]*GroupKey, error)
	// GroupMembers returns the users who hold a wrap of the group's key, in
	// the order GroupKeys lists them.
	GroupMembers(ctx context.Context, group string) ([]*User, error)
	DeleteGroupKey(ctx context.Context, group, userID string) error

	// Memos.
	CreateMemo(ctx context.Context, m *Memo) error
	UpdateMemo(ctx context.Context, m *Memo) error // optimistic on m.Version; bumps it
	// SetMemoCheck sets CheckAt of the memo if its version is still
	// version, without bumping the version (it is the reminders job's
	// bookkeeping, not a change to the memo); it reports whether it did.
	SetMemoCheck(ctx context.Context, id string, version, checkAt int64) (bool, error)
	MemoByID(ctx context.Context, id string) (*Memo, error)
	// MemoVersion returns the memo's Version alone: a check that it has not
	// changed since it was read, without reading it again.
	MemoVersion(ctx context.Context, id string) (int64, error)
	// ReadAhead tells a transaction which reads it is about to make (see
	// Ahead): a store that can batch reads fetches them in one round trip,
	// and those calls, each once and before the transaction's next write,
	// answer from what it read; after a write they read afresh. Others do
	// nothing.
	ReadAhead(ctx context.Context, a Ahead) error
	// ReadPageAhead tells a read transaction that a page of memos is about
	// to be listed: a store that can batch reads fetches, in one round
	// trip, the Headings of memoIDs, the IndexEntriesFor owners among
	// entries (none when owners is empty) and AccessForMemos(memoIDs,
	// grantees), asked with the same arguments; those calls, each once,
	// answer from what it read. Others do nothing.
	ReadPageAhead(ctx context.Context, memoIDs []string, owners [][]byte, entries [][]byte, grantees []string) error
	MemosByIDs(ctx context.Context, ids []string) ([]*Memo, error)
	ListMemos(ctx context.Context, f MemoFilter) ([]*Memo, error)
	PutRevision(ctx context.Context, r *Revision) error
	Revision(ctx context.Context, memoID string, revision int) (*Revision, error)
	// Headings returns the heading of one revision of each memo (revs maps
	// memo id to revision), by memo id; those without one are left out.
	Headings(ctx context.Context, revs map[string]int) (map[string]Heading, error)
	// Revisions returns a memo's revisions numbered above after, oldest
	// first, at most limit of them (every one for a limit of 0 or less).
	Revisions(ctx context.Context, memoID string, after, limit int) ([]*Revision, error)
	// RevisionStamps returns every revision of a memo, oldest first, with
	// its number, time and content hash only (Sealed left nil): what a
	// history's table shows, without reading the texts.
	RevisionStamps(ctx context.Context, memoID string) ([]*Revision, error)
	AddItem(ctx context.Context, it *Item) error
	Items(ctx context.Context, memoID string) ([]*Item, error)
	// CountItems counts a memo's items of one kind.
	CountItems(ctx context.Context, memoID, kind string) (int, error)

	// Publications: closed cases published with their drafters' consent,
	// in the clear by design. PutPublication fails with ErrConflict for a
	// memo published already; ListPublications lists the newest first,
	// after the one published at afterAt with id afterID (afterID "": from
	// the newest), without their documents.
	PutPublication(ctx context.Context, p *Publication) error
	Publication(ctx context.Context, memoID string) (*Publication, error)
	ListPublications(ctx context.Context, afterAt int64, afterID string, limit int) ([]*Publication, error)
	// PublicationTimes returns when each of the memos among ids that is
	// published was published, by memo id.
	PublicationTimes(ctx context.Context, ids []string) (map[string]int64, error)

	// Access: a memo's data key wrapped to a reader (a user or a group).
	// PutAccess stores wraps; one already there for the same memo, grantee
	// and key version gets the new wrapped key (the last given wins).
	PutAccess(ctx context.Context, as ...*Access) error
	AccessFor(ctx context.Context, memoID, grantee string, keyVersion int) (*Access, error)
	// AccessList returns a memo's wraps by time added, grantee, key version.
	AccessList(ctx context.Context, memoID string) ([]*Access, error)
	// AccessForMemos returns every wrap of these memos to these grantees
	// (a page of a list at once), in no particular order.
	AccessForMemos(ctx context.Context, memoIDs, grantees []string) ([]*Access, error)
	DeleteAccess(ctx context.Context, memoID, grantee string) error
	// DeleteAccessOf removes every wrap to a grantee, of every memo.
	DeleteAccessOf(ctx context.Context, grantee string) error
	// Withhold records that a delivered memo was not wrapped to these
	// principals of the standing distribution, whose keys awaited the
	// office's confirmation; recording one twice is not an error.
	// WithheldFrom lists the memos withheld from a user, by memo id;
	// WithheldOf the users a memo was withheld from, by user id; and
	// Unwithhold forgets one.
	Withhold(ctx context.Context, memoID string, userIDs ...string) error
	WithheldFrom(ctx context.Context, userID string) ([]string, error)
	WithheldOf(ctx context.Context, memoID string) ([]string, error)
	Unwithhold(ctx context.Context, userID, memoID string) error

	// The author index: entries sealed to their owner, under tags only the
	// owner can compute.
	// PutIndexEntry fails in a transaction not begun by BeginIndex.
	PutIndexEntry(ctx context.Context, owner, entry, sealed []byte) error
	// IndexEntry returns the entry under tag entry of any of owners: one
	// person's index keeps entries under more than one owner tag (an
	// anonymous report's apart from their other memos').
	IndexEntry(ctx context.Context, owners [][]byte, entry []byte) ([]byte, error)
	// IndexEntriesFor returns the entries of any of owners under these
	// tags, by tag (as a string); tags without one are left out.
	IndexEntriesFor(ctx context.Context, owners [][]byte, entries [][]byte) (map[string][]byte, error)
	IndexEntries(ctx context.Context, owner []byte) ([][]byte, error)

	// The mailbox: entries sealed to a recipient's public key, found by
	// trial decryption; no column names the recipient.
	PostMail(ctx context.Context, m *Mail) error
	// MailSince returns entries posted after since, or at since with an
	// id after afterID (every one at since for ""), oldest first, ties by
	// id: a page starts after the last entry of the one before.
	MailSince(ctx context.Context, since int64, afterID string, limit int) ([]*Mail, error)
	DeleteMail(ctx context.Context, ids []string) error

	// The ledger (see package ledger) and what sits beside it.
	// LedgerStorage returns the ledger's view of this transaction; leaves
	// written through it are indexed under memoID with their action
	// (memoID "" for a leaf about no memo; then action is not kept).
	LedgerStorage(memoID, action string) LedgerStorage
	PutLedgerDetail(ctx context.Context, index int64, sealed []byte) error
	// LeafIndexMismatch returns the first ledger index in [from, to) whose
	// stored memo and action, by which MemoLedger and MemoReads find a
	// memo's leaves, are not the leaf's own (its data names no memo and
	// it is filed under one, or the reverse), or -1 when all agree. The
	// ledger's self-check covers the leaves' data, not these columns.
	LeafIndexMismatch(ctx context.Context, from, to int64) (int64, error)
	// MemoLeafFiledElsewhere returns the first ledger index from from on
	// whose leaf names memoID (its data holds "memo":"memoID") but is not
	// filed where MemoLedger finds it (under another memo or none, or as a
	// read when it is none, or the reverse), or -1: LeafIndexMismatch for
	// one memo, without decoding every leaf.
	MemoLeafFiledElsewhere(ctx context.Context, memoID string, from int64) (int64, error)
	// MemoLedger returns a memo's history: the leaves about it, oldest
	// first, except its reads (ReadAction), which grow without bound.
	MemoLedger(ctx context.Context, memoID string) ([]LedgerEntry, error)
	// RowPastHead returns the first index of a ledger leaf or detail row at
	// or past the ledger's head, read in one snapshot with the head, or -1.
	// No hash or checkpoint covers such a row, yet a memo's history read
	// by memo would take it in were it not bounded by the head (review 57):
	// nothing the service writes leaves one there once committed.
	RowPastHead(ctx context.Context) (int64, error)
	// MemoSteps returns the leaves filed under any of memoIDs with any of
	// actions, or whose own data names one of actions (the action column
	// is not covered by the leaf's hash), oldest first, without their
	// details: the lifecycle steps of a page of memos, read at once. Like
	// MemoLedger, MemoLatest and MemoReads it stops at the ledger's head.
	MemoSteps(ctx context.Context, memoIDs, actions []string) ([]LedgerEntry, error)
	// MemoMisfiledRead returns the index of a leaf filed as one of the
	// memo's reads that is not a read, or -1: a leaf so re-filed would be
	// missing from MemoLedger. It reads the memo's reads.
	MemoMisfiledRead(ctx context.Context, memoID string) (int64, error)
	// MemoLatest returns the index of the latest leaf MemoLedger would
	// list for the memo, or -1 for none: a cheap sign that its history
	// grew.
	MemoLatest(ctx context.Context, memoID string) (int64, error)
	// MemoReads returns the memo's reads after ledger index after (-1: from
	// the first), oldest first, at most limit of them.
	MemoReads(ctx context.Context, memoID string, after int64, limit int) ([]LedgerEntry, error)
	// PutCheckpoint stores a signed checkpoint. One already stored at that
	// size is kept: a checkpoint once handed out is evidence, never
	// replaced.
	PutCheckpoint(ctx context.Context, size int64, note []byte, at int64) error
	LatestCheckpoint(ctx context.Context) (size int64, note []byte, err error)
	Checkpoint(ctx context.Context, size int64) ([]byte, error)
	// CosignCheckpoint replaces the checkpoint of size, if it is still old,
	// with cosigned: the same note with witnesses' cosignatures added
	// (ledger.AddCosignatures; the caller checks that). It reports whether
	// it did.
	CosignCheckpoint(ctx context.Context, size int64, old, cosigned []byte) (bool, error)

	// Notifications (in-app bell and the e-mail outbox).
	AddNotification(ctx context.Context, n *Notification) error
	// AddNotifications stores several at once, numbering each after its
	// user's last (several to one user in the order given).
	AddNotifications(ctx context.Context, ns []*Notification) error
	Notifications(ctx context.Context, userID string, limit int) ([]*Notification, error)
	MarkNotificationsRead(ctx context.Context, userID string, upTo int64) error
	UnreadNotifications(ctx context.Context, userID string) (int, error)

	// Figures.
	MemoFacts(ctx context.Context, from, to int64) ([]MemoFacts, error)
	// MistypedMemo returns the id of a memo whose row holds a value of
	// another type than its column's (SQLite types values, not columns: a
	// time stored as a BLOB of its digits reads back as the number, but
	// compares as no number does), or "" if there is none.
	MistypedMemo(ctx context.Context) (string, error)

	// Background jobs (package jobs). A periodic job is one row; a node
	// runs it only while it holds the row's lease, so that several app
	// nodes never run one job at once, and a node that dies mid-run leaves
	// it to another once the lease ends.
	//
	// ClaimJob takes the lease of job name until leaseUntil for owner if
	// the job is due (its run_at is at or before now) and no lease is held
	// at now; it reports whether it did. An unknown job is created, due.
	ClaimJob(ctx context.Context, name, owner string, now, leaseUntil int64) (bool, error)
	// FinishJob records a run of job name by owner, sets when it is due
	// next and releases the lease. ErrConflict if owner no longer holds it.
	FinishJob(ctx context.Context, name, owner string, at, next int64, lastError string) error
	Jobs(ctx context.Context) ([]*Job, error)

	// MarkReminder records that the reminder of kind about memoID's
	// deadline dueAt was sent, and reports false if it had been already:
	// reminders go out once however many nodes compute them.
	MarkReminder(ctx context.Context, memoID, kind string, dueAt, at int64) (bool, error)

	// The e-mail outbox is the notifications whose EmailState is
	// "pending". ClaimMail leases up to limit of those due at now to the
	// caller until leaseUntil, oldest first, skipping rows another
	// transaction holds (PostgreSQL: FOR UPDATE SKIP LOCKED): each is
	// returned with Attempts counted up, and that count is the claim's
	// token. A claim that is never settled (the node died) falls due again
	// at leaseUntil.
	ClaimMail(ctx context.Context, now, leaseUntil int64, limit int) ([]*Notification, error)
	// MailSent marks a claimed e-mail sent; ErrConflict if the claim with
	// that attempt is no longer current (another node took it over).
	MailSent(ctx context.Context, id string, attempt int, at int64) error
	// MailFailed settles a claimed e-mail that could not be sent: it is
	// tried again at nextTry, or, with permanent, never ("failed").
	// ErrConflict as for MailSent.
	MailFailed(ctx context.Context, id string, attempt int, nextTry int64, permanent bool, reason string) error
}

// LedgerStorage is the ledger's view of a transaction; it has exactly the
// methods of ledger.Storage.
type LedgerStorage interface {
	LockedSize(ctx context.Context) (int64, error)
	ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error)
	WriteLeaf(ctx context.Context, idx int64, leaf []byte, hashIndexes []int64, hashes []tlog.Hash) error
	ReadLeaves(ctx context.Context, from, to int64) ([][]byte, error)
}

// SignKey is a user's Ed25519 public key, with the name their signatures
// carry.
type SignKey struct {
	UserID, Username string
	Public           []byte
}

// UserName is how a user is shown.
type UserName struct {
	Username, DisplayName string
}

// User is an account. Display name and e-mail are plaintext: they form the
// directory. The private keys are sealed under a key derived from the password
// and, separately, to the organisation's recovery key.
type User struct {
	ID           string
	Username     string
	DisplayName  string
	Email        string
	Roles        []string
	Eligible     bool
	Disabled     bool
	CreatedAt    int64 // unix microseconds, like every time in this package
	Password     string
	BoxPublic    string
	SignPublic   []byte
	KeysSealed   []byte
	KeysRecovery []byte
	// KeyState is "active", or "reset" after an administrator reset the
	// password: the old identity then needs a recovery ceremony.
	KeyState string
	// KeysAnchor is the index of the ledger entry that anchors
	// BoxPublic and SignPublic (its content is their hash), or -1.
	KeysAnchor int64
	// KeysConfirmed is the index of the ledger entry in which the channel
	// office confirmed BoxPublic and SignPublic, KeysAwaitConfirmation
	// while the keys await it, or -1 where none is needed.
	KeysConfirmed int64
	SessionEpoch  int64
	MailSince     int64
	Version       int64
}

// KeysAwaitConfirmation is User.KeysConfirmed while the channel office has
// not confirmed keys that need it.
const KeysAwaitConfirmation = -2

// Session is a signed-in session. Everything but its expiry is sealed under
// a key derived from the token, which the store never sees.
type Session struct {
	ID        []byte
	Sealed    []byte
	ExpiresAt int64
	IdleUntil int64
}

// GroupKey is a group's private key wrapped to one member.
type GroupKey struct {
	Group     string
	UserID    string
	Wrapped   []byte
	GrantedBy string
	GrantedAt int64
}

// Memo is a memo's plaintext metadata (state, times, counts: nothing that
// names an author) and its sealed roster and receipt.
type Memo struct {
	ID             string
	State          string
	Profile        string
	Revision       int
	KeyVersion     int
	CreatedAt      int64
	UpdatedAt      int64
	SubmittedAt    int64
	AcknowledgedAt int64
	RepliedAt      int64
	EndedAt        int64 // closed, withdrawn or returned
	AcknowledgeBy  int64
	ReplyBy        int64
	ReplyLatest    int64
	DueAt          int64 // the nearest deadline still owed; 0 when none
	CheckAt        int64 // when the reminders job next has something to do about it; 0 when nothing
	AuthorsCount   int
	// Appeals, in profiles that have them: until when the authors may
	// appeal the reply (set with it), when they did, when the decision on
	// appeal falls due and when it was given; 0 for none.
	AppealBy        int64
	AppealedAt      int64
	AppealReplyBy   int64
	AppealRepliedAt int64
	// OfficeMessageAt is when the office last wrote to the authors (a
	// message, message.go); 0 for never.
	OfficeMessageAt int64
	Roster          []byte // sealed
	Receipt         []byte // JSON; names no author
	Version         int64
}

// MemoFilter selects memos for a list.
type MemoFilter struct {
	IDs       []string // only these
	Grantee   string   // only memos wrapped to this grantee
	States    []string
	Rotated   bool // only memos whose key was rotated (KeyVersion > 1)
	Submitted bool // only memos that were submitted (SubmittedAt > 0)
	// ByDue lists only memos that still owe an answer (DueAt > 0), nearest
	// deadline first; otherwise memos are ordered by UpdatedAt, newest
	// first. Both break ties by ID.
	ByDue bool
	// ByID lists memos by id, after AfterID: an order no change to a memo
	// moves it in, for a scan of every memo.
	ByID bool
	// CheckBy, when not 0, lists only memos whose CheckAt is set and not
	// after it, earliest first, ties by ID; it takes precedence over ByDue.
	CheckBy int64
	// After is the sort key and ID of the last memo of the previous page.
	AfterKey int64
	AfterID  string
	Limit    int
	// Light leaves out the sealed roster and the receipt, the bulk of a
	// row: for scans that need only states and times. UpdateMemo refuses
	// a light row.
	Light bool
}

// Revision is one sealed version of a memo's text.
type Revision struct {
	MemoID      string
	Revision    int
	KeyVersion  int
	Sealed      []byte
	ContentHash []byte
	CreatedAt   int64
	// Heading is the title and marking sealed apart, for lists. PutRevision
	// stores it when set; Revision and Revisions leave it empty (read it
	// with Headings).
	Heading []byte
}

// Ahead names the reads a transaction is about to make, for ReadAhead.
// Each is the call with exactly these arguments.
type Ahead struct {
	// Memo: MemoByID(Memo), and Revision(Memo, r) for the revision r the
	// memo is at.
	Memo string
	// Owners, Entry: IndexEntry(Owners, Entry), when Owners is not empty.
	Owners [][]byte
	Entry  []byte
	// View: AccessList(Memo), Items(Memo) and MemoLedger(Memo), what
	// showing the memo reads.
	View bool
	// Settings: Settings(Settings...), when not empty.
	Settings []string
	// Group: GroupMembers(Group), when not empty.
	Group string
}

// Heading is a revision's title and marking, sealed apart from its text.
type Heading struct {
	Revision, KeyVersion int
	Sealed               []byte
}

// Publication is a published case: its title and document (JSON, the
// service's to read), in the clear.
type Publication struct {
	MemoID      string
	Title       string
	Marking     string
	PublishedAt int64
	Doc         []byte // nil when listed
}

// Item is a sealed comment, meeting, reply or reason attached to a memo.
type Item struct {
	ID         string
	MemoID     string
	Kind       string
	KeyVersion int
	Sealed     []byte
	CreatedAt  int64
}

// Access is a memo's data key (of one key version) wrapped to a grantee: a
// user id, or a group name such as "group:office".
type Access struct {
	MemoID     string
	Grantee    string
	KeyVersion int
	Wrapped    []byte
	AddedBy    string
	Reason     []byte // sealed
	Standing   bool   // from the standing distribution, not an added reader
	AddedAt    int64
}

// Mail is an entry sealed to one recipient's public key.
type Mail struct {
	ID       string
	PostedAt int64
	Sealed   []byte
}

// ReadAction is the action of a leaf that records a read of a memo; the
// store keeps those apart from the memo's history (MemoLedger, MemoReads).
const ReadAction = "memo.read"

// LedgerEntry is a ledger leaf about one memo.
type LedgerEntry struct {
	Index int64
	Data  []byte
	// Detail is the sealed detail kept beside the leaf (PutLedgerDetail),
	// nil for none. Only MemoLedger and MemoReads read it.
	Detail []byte
}

// Notification is something a user must look at. It names no memo title,
// author or marking: only a kind, a memo id and a deadline.
type Notification struct {
	ID        string
	UserID    string
	Kind      string
	MemoID    string
	DueAt     int64
	CreatedAt int64
	Seq       int64
	Read      bool
	// Email is the address to send to, or "" for in-app only; EmailState
	// is "pending", "sent" or "none".
	Email      string
	EmailState string
	Attempts   int
	NextTry    int64
}

// Job is a periodic background job's schedule and lease.
type Job struct {
	Name       string
	RunAt      int64 // when it is due next
	LeaseUntil int64
	LeaseOwner string
	LastRun    int64
	LastError  string
}

// MemoFacts is what yearly figures are computed from: no author, no text.
type MemoFacts struct {
	// ID is for checking the row against the memo's ledger
	// (service.YearStats): never shown.
	ID             string
	State          string
	SubmittedAt    int64
	AcknowledgedAt int64
	RepliedAt      int64
	EndedAt        int64 // closed, withdrawn or returned; 0 while open
	AcknowledgeBy  int64
	ReplyBy        int64
	ReplyLatest    int64
	AuthorsCount   int
	// An appeal: when it was made, when its decision fell due, when it
	// was given; 0 for none.
	AppealedAt      int64
	AppealReplyBy   int64
	AppealRepliedAt int64
}
