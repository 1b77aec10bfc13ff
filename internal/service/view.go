package service

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// Memo is a memo as its reader sees it; the fields follow API.md.
type Memo struct {
	ID          string    `json:"id"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	Marking     string    `json:"marking"`
	State       string    `json:"state"`
	Revision    int       `json:"revision"`
	ContentHash string    `json:"content_hash"`
	CreatedAt   time.Time `json:"created_at"`
	UpdatedAt   time.Time `json:"updated_at"`
	Authors     []Author  `json:"authors"`
	// Anonymous: a report whose author the office and the readers are not
	// told (anonymous.go); to them Authors is empty.
	Anonymous        bool              `json:"anonymous,omitempty"`
	Dropped          []Author          `json:"dropped_signers,omitempty"`
	Receipt          *Receipt          `json:"receipt"`
	Deadlines        *Deadlines        `json:"deadlines"`
	Distribution     []Reader          `json:"distribution"`
	Meetings         []Meeting         `json:"meetings"`
	Reply            *Reply            `json:"reply"`
	Appeal           *Appeal           `json:"appeal,omitempty"`
	Publication      *PublicationState `json:"publication,omitempty"`
	Comments         []Comment         `json:"comments,omitempty"`
	Messages         []Message         `json:"messages,omitempty"` // between the office and the authors, to them alone
	Reason           string            `json:"reason,omitempty"`   // why it was returned or withdrawn
	Events           []Event           `json:"events"`
	Viewer           string            `json:"viewer"` // drafter, signer, office or reader
	VoidedSignatures *int              `json:"voided_signatures,omitempty"`
	Mine             *MySignature      `json:"my_signature,omitempty"`
	Authorship       *Authorship       `json:"authorship,omitempty"`
}

// Authorship is what lets an author, and no one else, prove their part in
// a memo: the ledger records each of their events on it under
// ledger.ActorCommitment(UserID, Nonce), which names no one until they show
// both (`dissent verify --user-id --nonce`). Shown only to that author.
type Authorship struct {
	UserID string `json:"user_id"`
	Nonce  string `json:"nonce"` // hex
}

// MySignature tells a signer what they signed.
type MySignature struct {
	Revision int       `json:"revision"`
	SignedAt time.Time `json:"signed_at"`
}

// Author is a drafter or signer as shown.
type Author struct {
	Username       string `json:"username"`
	DisplayName    string `json:"display_name"`
	Kind           string `json:"kind"`
	SignedRevision *int   `json:"signed_revision"`
}

// Deadlines are the office's due dates, and in profiles with appeals
// until when the authors may appeal the reply (once it is given) and when
// the decision on their appeal falls due (once they appealed).
type Deadlines struct {
	AcknowledgeBy time.Time  `json:"acknowledge_by"`
	ReplyBy       time.Time  `json:"reply_by"`
	ReplyLatest   time.Time  `json:"reply_latest"`
	AppealBy      *time.Time `json:"appeal_by,omitempty"`
	AppealReplyBy *time.Time `json:"appeal_reply_by,omitempty"`
}

// deadlines are a submitted memo's deadlines, nil for one not submitted.
func (s *Service) deadlines(m *store.Memo) *Deadlines {
	if m.SubmittedAt == 0 {
		return nil
	}
	d := &Deadlines{AcknowledgeBy: fromMicros(m.AcknowledgeBy), ReplyBy: fromMicros(m.ReplyBy), ReplyLatest: fromMicros(m.ReplyLatest)}
	if by := s.appealBy(m); by != 0 {
		t := fromMicros(by)
		d.AppealBy = &t
	}
	if m.AppealReplyBy != 0 {
		t := fromMicros(m.AppealReplyBy)
		d.AppealReplyBy = &t
	}
	return d
}

// Reader is someone on a memo's distribution.
type Reader struct {
	Username    string    `json:"username"`
	DisplayName string    `json:"display_name"`
	AddedBy     string    `json:"added_by"` // "standing" or the office member's username
	Reason      string    `json:"reason"`
	AddedAt     time.Time `json:"added_at"`
}

// Meeting is a recorded meeting.
type Meeting struct {
	HeldAt    time.Time `json:"held_at"`
	Minutes   int       `json:"minutes"`
	Principal string    `json:"principal"`
	Attendees []string  `json:"attendees"`
	Notes     string    `json:"notes"`
}

// Reply is the office's answer.
type Reply struct {
	Body      string    `json:"body"`
	RepliedAt time.Time `json:"replied_at"`
}

// Appeal is the authors' appeal of the reply (profiles with appeals), and
// the office's decision on it once given.
type Appeal struct {
	Reason     string    `json:"reason"`
	AppealedAt time.Time `json:"appealed_at"`
	Decision   *Reply    `json:"decision"`
}

// decided is the decision on a, if a is not nil.
func (a *Appeal) decided() *Reply {
	if a == nil {
		return nil
	}
	return a.Decision
}

// Comment is a note to the office.
type Comment struct {
	Author    string    `json:"author"`
	Body      string    `json:"body"`
	CreatedAt time.Time `json:"created_at"`
}

// Message is one of the messages between the office and a memo's authors
// (Service.Message), oldest first. Author names which author wrote, where
// the viewer may know it: never for an anonymous report.
type Message struct {
	From   string    `json:"from"` // "office" or "authors"
	Author string    `json:"author,omitempty"`
	Body   string    `json:"body"`
	SentAt time.Time `json:"sent_at"`
	// Unreadable says the message was sealed to none of the viewer's keys
	// (an author whose keys awaited the office's confirmation when it was
	// sent); Body is then empty.
	Unreadable bool `json:"unreadable,omitempty"`
}

// Event is a ledger entry about the memo. A memo's Events are its history:
// every step but the reads, which grow with every opening and are listed,
// a page at a time, by AccessLog; the one exception is the reader's own
// read, last, in the memo a read returns.
type Event struct {
	Index  int64     `json:"index"`
	At     time.Time `json:"at"`
	Action string    `json:"action"`
	Role   string    `json:"role"`
	// Actor is the username of an office member, reader or administrator;
	// for authors it is filled in only for viewers who can open the memo.
	Actor    string `json:"actor,omitempty"`
	Revision int    `json:"revision,omitempty"`
}

// view assembles what the actor may see of o.
func (s *Service) view(ctx context.Context, tx store.Tx, a *Actor, o *opened, withEvents bool) (*Memo, error) {
	c, hash, err := o.content(ctx, tx, o.rec.Revision)
	if err != nil {
		return nil, err
	}
	m := &Memo{
		ID: o.rec.ID, Title: c.Title, Body: c.Body, Marking: c.Marking, State: o.rec.State, Revision: o.rec.Revision,
		ContentHash: hex.EncodeToString(hash), CreatedAt: fromMicros(o.rec.CreatedAt), UpdatedAt: fromMicros(o.rec.UpdatedAt),
		Authors: showAuthors(o.roster.Authors), Anonymous: o.roster.Anonymous, Distribution: []Reader{}, Meetings: []Meeting{}, Events: []Event{},
	}
	switch o.rel {
	case relAuthor:
		m.Viewer = string(o.author.Kind)
		m.Authorship = &Authorship{UserID: o.author.UserID, Nonce: hex.EncodeToString(o.author.Nonce)}
		if o.author.Signed(o.rec.Revision) {
			m.Mine = &MySignature{Revision: o.author.SignedRevision, SignedAt: o.author.SignedAt}
		}
	case relOffice:
		m.Viewer = "office"
	default:
		m.Viewer = "reader"
	}
	// Who was asked to sign and did not is for the authors alone: the
	// office and the distribution learn only how many (the receipt).
	if len(o.roster.Dropped) > 0 && o.rel == relAuthor {
		m.Dropped = showAuthors(o.roster.Dropped)
	}
	if len(o.rec.Receipt) > 0 {
		m.Receipt = new(Receipt)
		if err := json.Unmarshal(o.rec.Receipt, m.Receipt); err != nil {
			return nil, err
		}
	}
	m.Deadlines = s.deadlines(o.rec)
	var names nameBook
	if err := s.viewDistribution(ctx, tx, o, m, &names); err != nil {
		return nil, err
	}
	items, err := tx.Items(ctx, o.rec.ID)
	if err != nil {
		return nil, err
	}
	if err := s.viewItems(o, m, items, &names, s.messageOpener(ctx, tx, a, o)); err != nil {
		return nil, err
	}
	if s.cfg.Profile.Publish && o.rec.SubmittedAt > 0 {
		ps, err := s.publicationState(ctx, tx, a, o, items)
		if err != nil {
			return nil, err
		}
		m.Publication = ps
	}
	if withEvents {
		if err := s.memoEvents(ctx, tx, o, &names, func(evs []Event) { m.Events = eventsShown(o, a, evs) }); err != nil {
			return nil, err
		}
	}
	return m, names.resolve(ctx, tx, s)
}

// nameBook gathers the user ids the parts of a view show, looks them all
// up in one query (resolve; those the node read lately it takes from its
// nameCache), and then hands each part the names it asked for.
type nameBook struct {
	ids   []string
	fills []func(map[string]User)
}

// want asks for the names of ids; fill gets them (unknown ids map to
// nothing) when the book resolves.
func (b *nameBook) want(ids []string, fill func(names map[string]User)) {
	b.ids = append(b.ids, ids...)
	b.fills = append(b.fills, fill)
}

func (b *nameBook) resolve(ctx context.Context, tx store.Tx, s *Service) error {
	// A memo of 51 signers asks for each of them several times.
	uniq := slices.Compact(slices.Sorted(slices.Values(b.ids)))
	if len(uniq) > 0 && uniq[0] == "" {
		uniq = uniq[1:]
	}
	// Names read here are kept only if none was forgotten since what is
	// read was current: the start of a read transaction, which reads as of
	// then, or now.
	mark := s.names.mark()
	if began, ok := s.reads.Load(tx); ok {
		mark = began.(uint64)
	}
	now := s.now()
	names, missing := s.names.get(uniq, now)
	if len(missing) > 0 {
		read, err := tx.UserNames(ctx, missing)
		if err != nil {
			return err
		}
		s.names.put(read, now, mark)
		maps.Copy(names, read)
	}
	out := make(map[string]User, len(names))
	for id, n := range names {
		out[id] = User{Username: n.Username, DisplayName: n.DisplayName}
	}
	for _, fill := range b.fills {
		fill(out)
	}
	return nil
}

func showAuthors(as []channel.Author) []Author {
	out := make([]Author, len(as))
	for i, a := range as {
		out[i] = Author{Username: a.Username, DisplayName: a.DisplayName, Kind: string(a.Kind)}
		if len(a.Signature) > 0 {
			r := a.SignedRevision
			out[i].SignedRevision = &r
		}
	}
	return out
}

func (s *Service) viewDistribution(ctx context.Context, tx store.Tx, o *opened, m *Memo, book *nameBook) error {
	all, err := o.accessList(ctx, tx)
	if err != nil {
		return err
	}
	var ids []string
	var rows []*store.Access
	for _, acc := range all {
		if acc.Grantee == officeGroup || acc.Grantee == authorsGroup || acc.KeyVersion != o.rec.KeyVersion {
			continue
		}
		ids = append(ids, acc.Grantee)
		if acc.AddedBy != "system" && !slices.Contains(ids, acc.AddedBy) {
			ids = append(ids, acc.AddedBy)
		}
		rows = append(rows, acc)
	}
	for _, acc := range rows {
		r := Reader{AddedBy: "standing", AddedAt: fromMicros(acc.AddedAt)}
		if !acc.Standing && len(acc.Reason) > 0 {
			reason, err := openReaderReason(o, acc)
			if err != nil {
				return err
			}
			r.Reason = reason
		} else if len(acc.Reason) > 0 {
			return errInternal("memo %s: a reader of the standing distribution has an office's reason: the access row was changed", o.rec.ID)
		}
		m.Distribution = append(m.Distribution, r)
	}
	book.want(ids, func(names map[string]User) {
		for i, acc := range rows {
			r := &m.Distribution[i]
			r.Username, r.DisplayName = names[acc.Grantee].Username, names[acc.Grantee].DisplayName
			if !acc.Standing {
				r.AddedBy = names[acc.AddedBy].Username
			}
		}
	})
	return nil
}

func (s *Service) viewItems(o *opened, m *Memo, items []*store.Item, book *nameBook, openMessage func(box []byte) (string, bool)) error {
	type decoded struct {
		kind string
		at   time.Time
		text textItem
		why  reasonItem
		meet meetingItem
	}
	var ds []decoded
	for _, it := range items {
		d := decoded{kind: it.Kind, at: fromMicros(it.CreatedAt)}
		var v any
		switch it.Kind {
		case "comment", "reply", "decision", "message":
			v = &d.text
		case "return", "withdraw", "appeal":
			v = &d.why
		case "meeting":
			v = &d.meet
		default:
			continue
		}
		plain, err := openBoundField(o.keys, it.KeyVersion, o.rec.ID, itemField(it.Kind, it.ID), itemLegacy(it.ID), it.Sealed)
		if err != nil {
			return err
		}
		if err := decodeSealed(plain, v); err != nil {
			return err
		}
		ds = append(ds, d)
	}
	var commentBy []string
	// Which author wrote a message, where the memo's history names them
	// to this viewer (authorsNamed): an anonymous report's author wrote
	// with no name. By index into m.Messages.
	var messageAt []int
	var messageBy []string
	named := authorsNamed(o)
	for _, d := range ds {
		switch d.kind {
		case "comment":
			// Comments are written to the office; authors do not see them.
			if o.rel != relAuthor {
				m.Comments = append(m.Comments, Comment{Body: d.text.Body, CreatedAt: d.at})
				commentBy = append(commentBy, d.text.By)
			}
		case "message":
			// Between the office and the authors: not the readers'.
			if o.rel == relOffice || o.rel == relAuthor {
				msg := Message{From: d.text.From, Body: d.text.Body, SentAt: d.at}
				if d.text.Box != nil {
					var ok bool
					msg.Body, ok = openMessage(d.text.Box)
					msg.Unreadable = !ok
				}
				m.Messages = append(m.Messages, msg)
				if by := d.text.By; d.text.From == fromAuthors && by != "" && named(by) {
					messageAt, messageBy = append(messageAt, len(m.Messages)-1), append(messageBy, by)
				}
			}
		case "reply":
			m.Reply = &Reply{Body: d.text.Body, RepliedAt: d.at}
		case "appeal":
			m.Appeal = &Appeal{Reason: d.why.Reason, AppealedAt: d.at, Decision: m.Appeal.decided()}
		case "decision": // on appeal; it may share the appeal's instant
			if m.Appeal == nil {
				m.Appeal = &Appeal{}
			}
			m.Appeal.Decision = &Reply{Body: d.text.Body, RepliedAt: d.at}
		case "return", "withdraw":
			m.Reason = d.why.Reason
		case "meeting":
			mt := d.meet
			m.Meetings = append(m.Meetings, Meeting{HeldAt: mt.HeldAt, Minutes: mt.Minutes, Principal: mt.Principal, Attendees: mt.Attendees, Notes: mt.Notes})
		}
	}
	if len(commentBy) > 0 {
		book.want(commentBy, func(names map[string]User) {
			for i, id := range commentBy {
				m.Comments[i].Author = names[id].Username
			}
		})
	}
	if len(messageBy) > 0 {
		book.want(messageBy, func(names map[string]User) {
			for k, i := range messageAt {
				m.Messages[i].Author = names[messageBy[k]].Username
			}
		})
	}
	return nil
}

// memoEvents decodes the ledger entries about a memo and hands them to
// done once book has the actors' names. With keys, author entries show
// which author acted.
func (s *Service) memoEvents(ctx context.Context, tx store.Tx, o *opened, book *nameBook, done func([]Event)) error {
	entries, err := o.memoLedger(ctx, tx)
	if err != nil {
		return err
	}
	return ledgerEvents(o.rec.ID, entries, o.keys, authorsNamed(o), book, done)
}

// lookActions are the ledger actions of looking at a memo without
// changing it, beside its reads (which its history leaves out).
var lookActions = []string{"memo.export", "memo.history", "memo.proof", "memo.access_log", "memo.withheld_list"}

// eventsShown is what of a memo's history a viewer sees: a reader, who
// sees only their own reads, sees only their own looks at it too (an
// export holds the whole text); its authors and the office see all, as
// they see the reads in the access log.
func eventsShown(o *opened, a *Actor, evs []Event) []Event {
	if o.rel != relReader {
		return evs
	}
	return slices.DeleteFunc(evs, func(ev Event) bool {
		return slices.Contains(lookActions, ev.Action) && ev.Actor != a.User.Username
	})
}

// authorsNamed says whose author entries a viewer of o sees named: its
// authors see everyone's, the colleagues who were asked to sign and did
// not among them; the office and the readers see the authors of the memo
// as submitted only, and of the others how many there were (the roster's
// dropped count), not who.
func authorsNamed(o *opened) func(userID string) bool {
	if o.rel == relAuthor {
		return func(string) bool { return true }
	}
	return func(id string) bool { return o.roster.Find(id) >= 0 }
}

// ledgerEvents shows ledger entries about a memo as events: an author's
// name only to a viewer holding the memo's keys (keys non-nil) and only
// where named says so, and every name once book resolves.
func ledgerEvents(memoID string, entries []store.LedgerEntry, keys memoKeys, named func(userID string) bool, book *nameBook, done func([]Event)) error {
	out := make([]Event, 0, len(entries))
	var ids []string
	leaves := make([]ledger.Leaf, len(entries))
	for i, e := range entries {
		l, err := ledger.DecodeLeaf(e.Data)
		if err != nil {
			return errInternal("ledger leaf %d: %w", e.Index, err)
		}
		leaves[i] = l
		if l.Actor != "" {
			ids = append(ids, l.Actor)
		}
	}
	authorOf := map[int64]string{}
	for i, l := range leaves {
		if keys == nil || l.Role != "author" || entries[i].Detail == nil {
			continue
		}
		// Only the author: decoding the whole detail into a map took half
		// of this for a memo of 51 signers.
		var d struct {
			Actor string `json:"actor"`
		}
		if openDetail(keys, memoID, l, entries[i].Detail, &d) && d.Actor != "" && named(d.Actor) {
			authorOf[entries[i].Index] = d.Actor
			ids = append(ids, d.Actor)
		}
	}
	book.want(ids, func(names map[string]User) {
		for i, l := range leaves {
			ev := Event{Index: entries[i].Index, At: l.Time, Action: l.Action, Role: l.Role, Revision: l.Revision}
			if l.Actor != "" {
				ev.Actor = names[l.Actor].Username
			} else if id, ok := authorOf[entries[i].Index]; ok {
				ev.Actor = names[id].Username
			}
			out = append(out, ev)
		}
		done(out)
	})
	return nil
}

// GetMemo opens a memo for reading. Reading is an audited event: the read
// is in the ledger, durably, before the memo is returned, and a read whose
// event cannot be written fails.
//
// The memo is assembled in a read transaction, so that reads run side by
// side instead of one at a time on the single writer; then a short write
// transaction checks that the memo has not changed since and appends the
// event. If it has changed, or the read transaction finds no way in (which
// may take a write: an invitation still in the mailbox), the whole read is
// done again under the write lock, as one transaction. A memo that does not
// exist and one the caller may not see take the same two paths.
func (s *Service) GetMemo(ctx context.Context, a *Actor, memoID string) (*Memo, error) {
	var out *Memo
	var o *opened
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		if channel.ValidID(memoID) {
			// The same reads, for a memo that exists or not.
			var owners [][]byte
			var entry []byte
			if a.id != nil {
				owners, entry = indexTags(a.id, memoID)
			}
			if err := tx.ReadAhead(ctx, store.Ahead{Memo: memoID, Owners: owners, Entry: entry, View: true}); err != nil {
				return err
			}
		}
		var err error
		if o, err = s.openMemo(ctx, tx, a, memoID, false); err != nil {
			return err
		}
		out, err = s.view(ctx, tx, a, o, true)
		return err
	})
	if err != nil {
		return s.getMemoLocked(ctx, a, memoID)
	}
	errChanged := errors.New("the memo changed since it was read")
	err = s.inTx(ctx, true, func(tx store.Tx) error {
		if err := s.recordOwnRead(ctx, tx, a, o, out); err != nil {
			return err
		}
		// Checked once the read's entry holds the ledger's lock, which
		// every change to the memo takes too: a change committed before
		// it (on another node: a reader removed) is seen here, and the
		// read then runs again on the memo as it is.
		if v, err := tx.MemoVersion(ctx, memoID); err != nil {
			return err
		} else if v != o.rec.Version {
			return errChanged
		}
		return nil
	})
	if errors.Is(err, errChanged) {
		return s.getMemoLocked(ctx, a, memoID)
	}
	if err != nil {
		return nil, err
	}
	return out, nil
}

// getMemoLocked is GetMemo in one write transaction.
func (s *Service) getMemoLocked(ctx context.Context, a *Actor, memoID string) (*Memo, error) {
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		var err error
		if out, err = s.view(ctx, tx, a, o, true); err == nil {
			err = s.recordOwnRead(ctx, tx, a, o, out)
		}
		// On PostgreSQL each statement sees the latest commit: another
		// node's change between the memo's row and its items (a key
		// rotated, a comment under the new key) runs the read again.
		if v, verr := tx.MemoVersion(ctx, memoID); verr == nil && v != o.rec.Version {
			return fmt.Errorf("%w: the memo changed while it was read", store.ErrConflict)
		}
		return err
	})
	return out, err
}

// recordOwnRead records a's reading o and shows it last in m's events, as
// AccessLog lists it: the reader sees their own name, and the ledger entry
// that proves the read.
func (s *Service) recordOwnRead(ctx context.Context, tx store.Tx, a *Actor, o *opened, m *Memo) error {
	idx, l, _, err := s.recordLeaf(ctx, tx, readEvent(a, o))
	if err != nil {
		return err
	}
	m.Events = append(m.Events, Event{Index: idx, At: l.Time, Action: l.Action, Role: l.Role, Actor: a.User.Username, Revision: l.Revision})
	return nil
}

// readEvent is the ledger event of a's reading o.
func readEvent(a *Actor, o *opened) event {
	switch o.rel {
	case relAuthor:
		return authorEvent(store.ReadAction, a, o)
	case relOffice:
		return memberEvent(store.ReadAction, a, o, channel.RoleOffice)
	default:
		return memberEvent(store.ReadAction, a, o, channel.RolePrincipal)
	}
}

// MemoSummary is a memo in a list.
type MemoSummary struct {
	ID        string     `json:"id"`
	Title     string     `json:"title"`
	Marking   string     `json:"marking"`
	State     string     `json:"state"`
	Revision  int        `json:"revision"`
	CreatedAt time.Time  `json:"created_at"`
	UpdatedAt time.Time  `json:"updated_at"`
	Deadlines *Deadlines `json:"deadlines,omitempty"`
	DueAt     *time.Time `json:"due_at,omitempty"`
	Viewer    string     `json:"viewer"`
}

// MemoPage is a page of memos.
type MemoPage struct {
	Items      []MemoSummary `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

// Boxes name the lists a user may see.
const (
	BoxMine         = "mine"
	BoxOffice       = "office"
	BoxDistribution = "distribution"
)

// ListMemos lists the memos of one box: mine (memos the actor drafts or is
// invited to sign), office (the office's open memos by nearest deadline, or
// with state= every memo in those states) or distribution (memos the actor
// reads as a principal).
func (s *Service) ListMemos(ctx context.Context, a *Actor, box string, states []string, cursor string, limit int) (*MemoPage, error) {
	for _, st := range states {
		if !channel.State(st).Valid() {
			return nil, channel.Invalid("state", "unknown state %q", st)
		}
	}
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	switch box {
	case BoxMine:
		if a.id == nil {
			return nil, errKeysLocked
		}
		if err := s.collectPending(ctx, a); err != nil {
			return nil, err
		}
	case BoxOffice:
		if !a.Has(channel.RoleOffice) {
			return nil, channel.Errorf(channel.EFORBIDDEN, "only the channel office has an office box")
		}
	case BoxDistribution:
		if !a.Has(channel.RolePrincipal) {
			return nil, channel.Errorf(channel.EFORBIDDEN, "only principals have a distribution box")
		}
	default:
		return nil, channel.Invalid("box", "box must be mine, office or distribution")
	}
	page := &MemoPage{Items: []MemoSummary{}}
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		f := store.MemoFilter{States: states, AfterKey: after.Key, AfterID: after.ID, Limit: limit + 1}
		switch box {
		case BoxMine:
			ids, err := listIndex(ctx, tx, a.id)
			if err != nil {
				return err
			}
			f.IDs = ids
			if f.IDs == nil {
				f.IDs = []string{}
			}
		case BoxOffice:
			if _, err := s.officeIdentity(ctx, tx, a); err != nil {
				return err
			}
			if len(states) == 0 {
				f.ByDue = true
			} else {
				// Drafts never reach the office, whatever the filter says,
				// nor memos withdrawn before they were submitted: listed
				// and passed by, they would name themselves in the page's
				// cursor.
				f.States = slices.DeleteFunc(slices.Clone(states), func(st string) bool { return !channel.State(st).Delivered() && st != string(channel.Withdrawn) })
				if len(f.States) == 0 {
					return nil
				}
				f.Submitted = true
			}
		case BoxDistribution:
			f.Grantee = a.User.ID
		}
		// A list shows no authors: rosters are read below only for the
		// memos the actor may be an author of.
		f.Light = box != BoxMine
		recs, err := tx.ListMemos(ctx, f)
		if err != nil {
			return err
		}
		if len(recs) > limit {
			last := recs[limit-1]
			key := last.UpdatedAt
			if f.ByDue {
				key = last.DueAt
			}
			page.NextCursor = encodeCursor(pageCursor{Key: key, ID: last.ID})
			recs = recs[:limit]
		}
		// What each memo needs, read for the whole page at once.
		w, err := readPageWays(ctx, tx, a, recs)
		if err != nil {
			return err
		}
		if f.Light {
			if recs, err = w.fullRows(ctx, tx, recs); err != nil {
				return err
			}
		}
		revs := make(map[string]int, len(recs))
		for _, rec := range recs {
			revs[rec.ID] = rec.Revision
		}
		heads, err := tx.Headings(ctx, revs)
		if err != nil {
			return err
		}
		for _, rec := range recs {
			o, err := s.openRecord(ctx, tx, a, rec, false, false, w)
			if errors.Is(err, channel.ErrNotFound) {
				continue // e.g. an office listing of a memo withdrawn before submission
			} else if err != nil {
				return err
			}
			if box == BoxMine && o.rel != relAuthor {
				continue
			}
			if h, ok := heads[rec.ID]; ok {
				o.head = &h
			}
			page.Items = append(page.Items, s.summary(ctx, tx, o))
		}
		return nil
	})
	return page, err
}

// heading is what a list shows of a revision.
type heading struct {
	Title   string `json:"title"`
	Marking string `json:"marking"`
}

// headingField names a revision's heading in its seal's associated data,
// so that a heading moved to another revision or memo does not open.
func headingField(rev int) string { return "heading/" + strconv.Itoa(rev) }

// heading opens revision rev for its title and marking only: from o.head,
// the heading sealed apart from the text that the list read for its page (a
// few hundred bytes), else (a revision made before headings were kept) from
// its whole text. Decoding the body as well, which a list does not show, was
// most of a list's work: decodeSealed skips the body it does not keep.
func (o *opened) heading(ctx context.Context, tx store.Tx, rev int) (heading, error) {
	var h heading
	if o.head != nil && o.head.Revision == rev {
		return h, openJSON(o.keys, o.head.KeyVersion, o.rec.ID, headingField(rev), o.head.Sealed, &h)
	}
	r, err := tx.Revision(ctx, o.rec.ID, rev)
	if err != nil {
		return h, err
	}
	plain, err := openBoundField(o.keys, r.KeyVersion, o.rec.ID, revisionField(r.Revision), "revision", r.Sealed)
	if err != nil {
		return h, err
	}
	return h, decodeSealed(plain, &h)
}

func (s *Service) summary(ctx context.Context, tx store.Tx, o *opened) MemoSummary {
	sum := MemoSummary{ID: o.rec.ID, State: o.rec.State, Revision: o.rec.Revision, CreatedAt: fromMicros(o.rec.CreatedAt), UpdatedAt: fromMicros(o.rec.UpdatedAt)}
	if h, err := o.heading(ctx, tx, o.rec.Revision); err == nil {
		sum.Title, sum.Marking = h.Title, h.Marking
	}
	sum.Deadlines = s.deadlines(o.rec)
	if o.rec.DueAt > 0 {
		d := fromMicros(o.rec.DueAt)
		sum.DueAt = &d
	}
	switch o.rel {
	case relAuthor:
		sum.Viewer = string(o.author.Kind)
	case relOffice:
		sum.Viewer = "office"
	default:
		sum.Viewer = "reader"
	}
	return sum
}

// pageCursor is where a page ends; clients see it as an opaque string.
type pageCursor struct {
	Key int64  `json:"k,omitempty"`
	ID  string `json:"i"`
}

func encodeCursor(c pageCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (pageCursor, error) {
	var c pageCursor
	if s == "" {
		return c, nil
	}
	// The length first: a hostile cursor is refused before it is decoded.
	if len(s) <= 200 {
		b, err := base64.RawURLEncoding.DecodeString(s)
		if err == nil && json.Unmarshal(b, &c) == nil && !strings.ContainsAny(c.ID, "\x00") {
			return c, nil
		}
	}
	return pageCursor{}, channel.Invalid("cursor", "the cursor is not one this server gave out")
}

// AccessEntry is one read or grant of a memo.
type AccessEntry struct {
	Action   string    `json:"action"` // "read" or "granted"
	Username string    `json:"username,omitempty"`
	Role     string    `json:"role"`
	At       time.Time `json:"at"`
	Index    int64     `json:"ledger_index,omitempty"`
}

// AccessPage is a page of a memo's access log.
type AccessPage struct {
	Items      []AccessEntry `json:"items"`
	NextCursor string        `json:"next_cursor"`
}

// Where an access log's page ends: in the grants, after Key of them, or in
// the reads, after the one at ledger index Key.
const (
	cursorGrants = "g"
	cursorReads  = "r"
)

// AccessLog lists who read or was granted a memo, and when: for its
// authors, the office and auditors. Auditors see it without the contents.
// A page holds the grants first (a few per reader), oldest first, then the
// reads in ledger order, which are read from the store a page at a time:
// a memo read ten thousand times costs no more to list a page of.
func (s *Service) AccessLog(ctx context.Context, a *Actor, memoID, cursor string, limit int) (*AccessPage, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	if after.ID == "" {
		after.ID = cursorGrants
	}
	switch {
	case after.ID == cursorGrants && after.Key >= 0, after.ID == cursorReads && after.Key >= -1:
	default:
		return nil, channel.Invalid("cursor", "the cursor is not one this server gave out")
	}
	limit = min(max(limit, 1), 200)
	var page *AccessPage
	err = s.withMail(ctx, a, func(ctx context.Context) error {
		page = &AccessPage{Items: []AccessEntry{}}
		return s.accessLog(ctx, a, memoID, after, limit, page)
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

// accessLog is AccessLog in one write transaction, run again if it lost a
// race (another node changed the memo between its row and its history).
func (s *Service) accessLog(ctx context.Context, a *Actor, memoID string, after pageCursor, limit int, page *AccessPage) error {
	return s.retry(ctx, func(tx store.Tx) error {
		*page = AccessPage{Items: []AccessEntry{}}
		var keys memoKeys
		named := func(string) bool { return false }
		o, err := s.openMemo(ctx, tx, a, memoID, true)
		switch {
		case err == nil && (o.rel == relAuthor || o.rel == relOffice):
			keys, named = o.keys, authorsNamed(o)
		case err == nil || errors.Is(err, channel.ErrNotFound):
			if !a.Has(channel.RoleAuditor) {
				if err == nil {
					return channel.Errorf(channel.EFORBIDDEN, "only the memo's authors, the office and auditors see who read it")
				}
				return err
			}
			if !channel.ValidID(memoID) {
				return channel.ErrNotFound
			}
			if _, err := tx.MemoByID(ctx, memoID); err != nil {
				return storeErr(err, "the memo")
			}
		default:
			return err
		}
		// Names fill in when book resolves: the page is put together after.
		var book nameBook
		var granted, reads []AccessEntry
		readsAfter := after.Key
		if after.ID == cursorGrants {
			grants, err := grants(ctx, tx, memoID, &book)
			if err != nil {
				return err
			}
			from := min(int(after.Key), len(grants))
			to := min(from+limit, len(grants))
			granted = grants[from:to]
			if to < len(grants) {
				page.NextCursor = encodeCursor(pageCursor{ID: cursorGrants, Key: int64(to)})
			}
			readsAfter = -1
		}
		if page.NextCursor == "" {
			// One more than fits, to tell whether another page follows.
			room := limit - len(granted)
			entries, err := tx.MemoReads(ctx, memoID, readsAfter, room+1)
			if err != nil {
				return err
			}
			more := len(entries) > room
			entries = entries[:min(len(entries), room)]
			switch {
			case more && len(entries) > 0:
				page.NextCursor = encodeCursor(pageCursor{ID: cursorReads, Key: entries[len(entries)-1].Index})
			case more:
				page.NextCursor = encodeCursor(pageCursor{ID: cursorReads, Key: readsAfter})
			}
			err = ledgerEvents(memoID, entries, keys, named, &book, func(evs []Event) {
				for _, ev := range evs {
					reads = append(reads, AccessEntry{Action: "read", Username: ev.Actor, Role: ev.Role, At: ev.At, Index: ev.Index})
				}
			})
			if err != nil {
				return err
			}
		}
		if err := book.resolve(ctx, tx, s); err != nil {
			return err
		}
		page.Items = append(append(page.Items, granted...), reads...)
		// The role it looked in: the office's, or an auditor's (an
		// account may also be an administrator, which lets it see
		// nothing here, and must not be named so to the authors).
		r := event{action: "memo.access_log", actor: a, role: string(channel.RoleAuditor), memo: memoID}
		switch {
		case o != nil && o.rel == relAuthor:
			r = authorEvent("memo.access_log", a, o)
		case o != nil && o.rel == relOffice:
			r.role = string(channel.RoleOffice)
		}
		_, err = s.record(ctx, tx, r)
		return err
	})
}

// grants lists the memo's grants of access, one per reader and moment
// (not per key version), oldest first as the store lists them; their
// names fill in when book resolves.
func grants(ctx context.Context, tx store.Tx, memoID string, book *nameBook) ([]AccessEntry, error) {
	access, err := tx.AccessList(ctx, memoID)
	if err != nil {
		return nil, err
	}
	var out []AccessEntry
	var ids []string // each entry's grantee, "" for the office
	seen := map[string]bool{}
	for _, acc := range access {
		k := acc.Grantee + "/" + strconv.FormatInt(acc.AddedAt, 10)
		if seen[k] || acc.Grantee == authorsGroup {
			continue
		}
		seen[k] = true
		e, id := AccessEntry{Action: "granted", At: fromMicros(acc.AddedAt), Role: "principal"}, acc.Grantee
		if id == officeGroup {
			e.Role, id = "office", ""
		}
		out, ids = append(out, e), append(ids, id)
	}
	book.want(ids, func(names map[string]User) {
		for i, id := range ids {
			if id != "" {
				out[i].Username = names[id].Username
			}
		}
	})
	return out, nil
}
