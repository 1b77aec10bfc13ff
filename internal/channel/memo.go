// Package channel is the domain of the dissent channel: memos, their
// revisions and authors, the lifecycle, policy profiles and deadlines.
//
// It is pure: no I/O, no clock, no randomness, no cryptography. The service
// package feeds it facts and stores what it decides.
package channel

import (
	"slices"
	"time"
)

// State is where a memo is in its lifecycle.
type State string

// The states of a memo. Withdrawn and returned are side exits.
const (
	Draft        State = "draft"
	Circulating  State = "circulating"
	Submitted    State = "submitted"
	Acknowledged State = "acknowledged"
	Replied      State = "replied"
	Closed       State = "closed"
	// Appealed: the authors appealed the reply, in a profile that has
	// appeals (the NRC's), and the office owes a decision on appeal.
	Appealed  State = "appealed"
	Withdrawn State = "withdrawn"
	Returned  State = "returned"
)

// States lists every state in lifecycle order.
var States = []State{Draft, Circulating, Submitted, Acknowledged, Replied, Closed, Appealed, Withdrawn, Returned}

// Valid reports whether s is a known state.
func (s State) Valid() bool { return slices.Contains(States, s) }

// Editable reports whether drafters may still change the text.
func (s State) Editable() bool { return s == Draft || s == Circulating }

// Delivered reports whether the memo has reached the channel office.
func (s State) Delivered() bool {
	switch s {
	case Submitted, Acknowledged, Replied, Closed, Appealed, Returned:
		return true
	}
	return false
}

// Open reports whether the office still owes an answer: a reply, or a
// decision on appeal.
func (s State) Open() bool { return s == Submitted || s == Acknowledged || s == Appealed }

// Action is a step in the lifecycle.
type Action string

// The lifecycle actions.
const (
	ActInvite      Action = "invite"
	ActSubmit      Action = "submit"
	ActAcknowledge Action = "acknowledge"
	ActReturn      Action = "return"
	ActWithdraw    Action = "withdraw"
	ActReply       Action = "reply"
	ActClose       Action = "close"
	ActAppeal      Action = "appeal"
	ActDecide      Action = "decide"
)

var transitions = map[Action]struct {
	from []State
	to   State
}{
	ActInvite:      {[]State{Draft, Circulating}, Circulating},
	ActSubmit:      {[]State{Draft, Circulating}, Submitted},
	ActAcknowledge: {[]State{Submitted}, Acknowledged},
	ActReturn:      {[]State{Submitted, Acknowledged}, Returned},
	ActWithdraw:    {[]State{Draft, Circulating, Submitted, Acknowledged}, Withdrawn},
	ActReply:       {[]State{Submitted, Acknowledged}, Replied},
	ActClose:       {[]State{Replied}, Closed},
	// The authors appeal the reply, closed or not; whether the profile
	// has appeals, and whether it is still time, is Appeal's to say.
	ActAppeal: {[]State{Replied, Closed}, Appealed},
	// The decision on appeal is a step of its own, so that a reply meant
	// for the first answer is never taken for it.
	ActDecide: {[]State{Appealed}, Replied},
}

// Transition returns the state a memo in state from reaches by act, or an
// ECONFLICT error naming the state it is in.
func Transition(from State, act Action) (State, error) {
	t, ok := transitions[act]
	if !ok {
		return from, Errorf(EINTERNAL, "unknown action %q", act)
	}
	if !slices.Contains(t.from, from) {
		return from, Errorf(ECONFLICT, "a memo that is %s cannot be %s", from, pastTense(act))
	}
	return t.to, nil
}

func pastTense(a Action) string {
	switch a {
	case ActInvite:
		return "circulated for signature"
	case ActSubmit:
		return "submitted"
	case ActAcknowledge:
		return "acknowledged"
	case ActReturn:
		return "returned"
	case ActWithdraw:
		return "withdrawn"
	case ActReply:
		return "replied to"
	case ActClose:
		return "closed"
	case ActAppeal:
		return "appealed"
	case ActDecide:
		return "decided on appeal"
	}
	return string(a)
}

// AuthorKind says how a person is an author of a memo.
type AuthorKind string

// Drafters write the memo; signers co-sign an exact revision.
const (
	KindDrafter AuthorKind = "drafter"
	KindSigner  AuthorKind = "signer"
)

// Author is one drafter or signer of a memo. The roster of authors is sealed
// at rest: only people who can open the memo learn who wrote it.
type Author struct {
	UserID         string     `json:"user_id"`
	Username       string     `json:"username"`
	DisplayName    string     `json:"display_name"`
	Kind           AuthorKind `json:"kind"`
	SignedRevision int        `json:"signed_revision,omitempty"`
	Signature      []byte     `json:"signature,omitempty"`
	SignedAt       time.Time  `json:"signed_at,omitzero"`
	// Nonce hides the author behind a commitment in the public ledger; an
	// author reveals it to prove a ledger entry was theirs.
	Nonce []byte `json:"nonce"`
	// Keys are the keys the signature was checked with when the memo was
	// submitted, for its bundle to carry them after the signer's keys
	// change (memos submitted before December 2026 have none).
	Keys *SignerKeys `json:"keys,omitempty"`
}

// SignerKeys are a signer's public keys and the ledger entry that anchors
// them.
type SignerKeys struct {
	Sign   []byte `json:"sign"`
	Box    string `json:"box"`
	Anchor int64  `json:"anchor"`
}

// Signed reports whether a's signature counts for revision rev.
func (a Author) Signed(rev int) bool { return a.SignedRevision == rev && len(a.Signature) > 0 }

// Roster is the list of a memo's authors.
type Roster struct {
	Authors []Author `json:"authors"`
	// Dropped lists signers who had not signed the submitted revision.
	Dropped []Author `json:"dropped,omitempty"`
	// Anonymous marks a report whose author the office and the readers may
	// not learn (profiles with anonymous reports). Its Authors and Dropped
	// are then kept in Hidden, sealed under a key only its author holds;
	// the roster the memo's key opens names no one.
	Anonymous bool   `json:"anonymous,omitempty"`
	Hidden    []byte `json:"hidden,omitempty"`
	// AuthorsBox is the public key the office wraps a new memo key to for
	// the authors of an anonymous report, whom it cannot name.
	AuthorsBox string `json:"authors_box,omitempty"`
}

// Find returns the index of userID in the roster, or -1.
func (r *Roster) Find(userID string) int {
	return slices.IndexFunc(r.Authors, func(a Author) bool { return a.UserID == userID })
}

// IsDrafter reports whether userID drafts the memo.
func (r *Roster) IsDrafter(userID string) bool {
	i := r.Find(userID)
	return i >= 0 && r.Authors[i].Kind == KindDrafter
}

// VoidSignatures drops every signature: an edit makes a new revision that
// everyone must sign again. It returns how many signatures were voided.
func (r *Roster) VoidSignatures() int {
	n := 0
	for i := range r.Authors {
		if len(r.Authors[i].Signature) > 0 {
			n++
		}
		r.Authors[i].SignedRevision = 0
		r.Authors[i].Signature = nil
		r.Authors[i].SignedAt = time.Time{}
	}
	return n
}

// PrepareSubmission checks that revision rev may be submitted and drops the
// signers who did not sign it. Drafters stay authors whether or not they
// signed, but for those barred (who may no longer file: the caller knows
// them), and at least one drafter must have signed.
func (r *Roster) PrepareSubmission(rev int, barred []string) error {
	drafterSigned := false
	var kept, dropped []Author
	for _, a := range r.Authors {
		switch {
		case slices.Contains(barred, a.UserID):
			dropped = append(dropped, a)
		case a.Kind == KindDrafter:
			if a.Signed(rev) {
				drafterSigned = true
			}
			kept = append(kept, a)
		case a.Signed(rev):
			kept = append(kept, a)
		default:
			dropped = append(dropped, a)
		}
	}
	if !drafterSigned {
		return Errorf(EINVALID, "at least one drafter must sign revision %d before it is submitted", rev)
	}
	r.Authors, r.Dropped = kept, dropped
	return nil
}

// SignedCount is the number of authors whose signature counts for rev.
func (r *Roster) SignedCount(rev int) int {
	n := 0
	for _, a := range r.Authors {
		if a.Signed(rev) {
			n++
		}
	}
	return n
}

// Content is what a revision says.
type Content struct {
	Title   string `json:"title"`
	Body    string `json:"body"`
	Marking string `json:"marking"`
}

// Deadlines are the dates by which the office owes each answer.
type Deadlines struct {
	AcknowledgeBy time.Time
	ReplyBy       time.Time
	ReplyLatest   time.Time
}
