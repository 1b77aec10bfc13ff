package service

import (
	"context"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Message is the office writing to a memo's authors, or its authors to the
// office, once the memo has reached it and until the case ends: a question
// and its answer, more of what happened, what is being done. It is the one
// way the office can ask the author of an anonymous report anything. A
// message's body is sealed to the office's public key and to the authors'
// (an anonymous report's authors' box), and the item that holds it, with
// which side wrote, under the memo's key: the readers, who hold the memo's
// key, cannot open the body even from a copy of the database (messages
// written before December 2026 were sealed under the memo's key alone).
// The office's members are told of an authors' message (a stored notice,
// and e-mail); the authors of the office's, on their bell, worked out when
// they look from the time on the memo's row (OfficeMessageAt), nothing
// stored naming them.
func (s *Service) Message(ctx context.Context, a *Actor, memoID, body string) (*Memo, error) {
	if err := channel.ValidateText("body", body, channel.MaxComment); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if o.rel != relOffice && o.rel != relAuthor {
			return channel.Errorf(channel.EFORBIDDEN, "only the channel office and the memo's authors write to each other")
		}
		if st := channel.State(o.rec.State); !st.Open() && st != channel.Replied {
			return channel.Errorf(channel.ECONFLICT, "a memo that is %s takes no messages: the office and the authors write to each other from its submission until the case ends", o.rec.State)
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "write a message"); err != nil {
			return err
		}
		now := s.now()
		told, err := s.officeToldLately(ctx, tx, o, now)
		if err != nil {
			return err
		}
		o.rec.UpdatedAt = micros(now)
		from := fromAuthors
		if o.rel == relOffice {
			from = fromOffice
			o.rec.OfficeMessageAt = micros(now)
		}
		to, err := s.messageRecipients(ctx, tx, o)
		if err != nil {
			return err
		}
		box, err := vault.SealToMany(to, []byte(body))
		if err != nil {
			return err
		}
		if err := s.addItem(ctx, tx, a, o, "message", textItem{Box: box, From: from}, now); err != nil {
			return err
		}
		ev := memberEvent("memo.message", a, o, channel.RoleOffice)
		if from == fromAuthors {
			ev = authorEvent("memo.message", a, o)
		}
		if out, _, err = s.save(ctx, tx, a, o, ev); err != nil {
			return err
		}
		if from == fromAuthors && !told {
			return s.noticeMessage(ctx, tx, o.rec)
		}
		return nil
	})
	return out, err
}

// messageCalm is how long after telling the office of an authors' message
// a further one from them tells it nothing more: a reporter writing line
// after line, or an anonymous one filling the office's mailboxes, is one
// notice and one e-mail per office member.
const messageCalm = 10 * time.Minute

// officeToldLately reports whether the office was told of an authors'
// message on o within messageCalm of now. It was told of the first of
// their messages, and of each that came more than messageCalm after the
// last it was told of: at most one notice, and during a long run of
// messages at least one, each messageCalm.
func (s *Service) officeToldLately(ctx context.Context, tx store.Tx, o *opened, now time.Time) (bool, error) {
	if o.rel != relAuthor {
		return false, nil
	}
	items, err := tx.Items(ctx, o.rec.ID) // oldest first
	if err != nil {
		return false, err
	}
	var told time.Time
	for _, it := range items {
		if it.Kind != "message" {
			continue
		}
		// Sealed as the memo's page opens it, the old way too; and one
		// that does not open is not the authors': this runs on the
		// authors' requests only, and an error here would stop them
		// answering, or point out an anonymous one, for what someone
		// else wrote into the thread.
		plain, err := openBoundField(o.keys, it.KeyVersion, o.rec.ID, itemField(it.Kind, it.ID), itemLegacy(it.ID), it.Sealed)
		var m textItem
		if err != nil || decodeSealed(plain, &m) != nil {
			continue
		}
		if at := fromMicros(it.CreatedAt); m.From == fromAuthors && at.Sub(told) > messageCalm {
			told = at
		}
	}
	return now.Sub(told) <= messageCalm, nil
}

// Who a message is from.
const (
	fromOffice  = "office"
	fromAuthors = "authors"
)

// noticeMessage tells the office's members that the authors of m wrote.
func (s *Service) noticeMessage(ctx context.Context, tx store.Tx, m *store.Memo) error {
	office, err := s.officeRecipients(ctx, tx)
	if err != nil {
		return err
	}
	_, err = s.notify(ctx, tx, office, KindMessage, m.ID, time.Time{}, s.reminders())
	return err
}

// messageRecipients are the public keys a message on o is sealed to: the
// office's, proved anchored, and the authors': an anonymous report's
// authors' box, or each author's own keys, proved anchored, except those
// whose keys made again await the office's confirmation (who are given no
// memo either; keys recovered or put back, the ones the author went out
// under, are not passed by) and accounts disabled. The roster is sealed
// under the memo's key, which the readers hold too: its authors, and an
// anonymous report's authors' box, are checked against those the memo's
// submission entry recorded (authorsVouched, authorsBoxVouched).
func (s *Service) messageRecipients(ctx context.Context, tx store.Tx, o *opened) ([]string, error) {
	set, err := tx.Settings(ctx, settingOffice, settingOfficeAnchor)
	if err != nil {
		return nil, err
	}
	office, err := s.officeBox(ctx, tx, set)
	if err != nil {
		return nil, err
	}
	if office == nil {
		return nil, channel.Errorf(channel.ECONFLICT, "%s", officeUnfounded)
	}
	to := []string{string(office)}
	if o.authorsID != nil {
		// The reporter writing: their own authors' identity, not the
		// cover's word for it.
		return append(to, o.authorsID.Public().Box), nil
	}
	if o.roster.Anonymous {
		if o.roster.AuthorsBox == "" {
			return nil, errInternal("anonymous report %s has no authors' box", o.rec.ID)
		}
		if ok, err := s.authorsBoxVouched(ctx, tx, o); err != nil || !ok {
			return to, err
		}
		return append(to, o.roster.AuthorsBox), nil
	}
	boxes, err := s.authorsVouched(ctx, tx, o)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(o.roster.Authors))
	for i, au := range o.roster.Authors {
		ids[i] = au.UserID
	}
	users, err := tx.UsersByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	for _, u := range users {
		if _, vouched := boxes[u.ID]; u.Disabled || u.BoxPublic == "" || boxes != nil && !vouched {
			continue
		}
		// Keys made again that await the office's confirmation are
		// passed by, unless they are the keys the author went out under
		// (recovered by the custodians, or put back at a sign-in): those
		// open the author's index, and the memo, already.
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return nil, err
		} else if held && (boxes == nil || boxes[u.ID] != u.BoxPublic) {
			continue
		}
		if err := s.checkUserKeys(ctx, tx, u); err != nil {
			return nil, err
		}
		to = append(to, u.BoxPublic)
	}
	return to, nil
}

// messageOpener returns what opens, for a, the body of a message on o
// sealed to the office and the authors: the office's key for its members,
// the authors' own (an anonymous report's authors' identity) for its
// authors; it reports false for a body sealed to none of a's keys.
func (s *Service) messageOpener(ctx context.Context, tx store.Tx, a *Actor, o *opened) func([]byte) (string, bool) {
	identity := sync.OnceValue(func() *vault.Identity {
		switch {
		case o.rel == relOffice:
			id, _ := s.officeIdentity(ctx, tx, a)
			return id
		case o.rel == relAuthor && o.authorsID != nil:
			return o.authorsID
		case o.rel == relAuthor:
			return a.id
		}
		return nil
	})
	return func(box []byte) (string, bool) {
		id := identity()
		if id == nil {
			return "", false
		}
		plain, err := id.OpenSealed(box)
		return string(plain), err == nil
	}
}

// vouchedAuthor is an author as a memo's submission entry records them,
// in its sealed detail: their commitment and the box key they went out
// under.
type vouchedAuthor struct {
	Commit string `json:"commit"`
	Box    string `json:"box"`
}

// submissionAuthors is what a memo's submission entry vouches for of its
// authors (since December 2026): each author of an ordinary memo, or an
// anonymous report's authors' box.
type submissionAuthors struct {
	Authors    []vouchedAuthor `json:"authors"`
	AuthorsBox string          `json:"authors_box"`
}

// vouchAuthors adds to the detail of o's submission entry whom its
// messages go to: the authors' box of an anonymous report (the reporter's
// own identity's, not the cover's word for it), or each author's
// commitment and box key. The detail is sealed under the memo's key, as
// the roster is: it tells its readers nothing the roster does not.
func (s *Service) vouchAuthors(ctx context.Context, tx store.Tx, o *opened, detail map[string]any) error {
	if o.roster.Anonymous {
		if o.authorsID != nil {
			detail["authors_box"] = o.authorsID.Public().Box
		}
		return nil
	}
	// The signers' keys are on the roster already, read with their
	// signatures (checkSignatures); a drafter who did not sign is read.
	box := make(map[string]string, len(o.roster.Authors))
	var unsigned []string
	for _, au := range o.roster.Authors {
		if au.Keys != nil {
			box[au.UserID] = au.Keys.Box
		} else {
			unsigned = append(unsigned, au.UserID)
		}
	}
	users, err := tx.UsersByIDs(ctx, unsigned)
	if err != nil {
		return err
	}
	for _, u := range users {
		box[u.ID] = u.BoxPublic
	}
	out := make([]vouchedAuthor, len(o.roster.Authors))
	for i, au := range o.roster.Authors {
		out[i] = vouchedAuthor{Commit: ledger.ActorCommitment(au.UserID, au.Nonce), Box: box[au.UserID]}
	}
	detail["authors"] = out
	return nil
}

// What a memo's submission entry says of its authors.
const (
	submissionBefore     = iota // submitted before the entry recorded them (or not submitted)
	submissionRecorded          // the entry records them
	submissionUnreadable        // the leaf commits to a detail that is gone or does not open
)

// submission reads what o's submission entry vouches for of its authors.
func (s *Service) submission(ctx context.Context, tx store.Tx, o *opened) (d submissionAuthors, state int, err error) {
	entries, err := o.memoLedger(ctx, tx)
	if err != nil {
		return d, 0, err
	}
	for _, e := range entries {
		l, err := ledger.DecodeLeaf(e.Data)
		if err != nil {
			return d, 0, errInternal("ledger leaf %d: %w", e.Index, err)
		}
		if l.Action != "memo.submit" {
			continue
		}
		if !openDetail(o.keys, o.rec.ID, l, e.Detail, &d) {
			// Only someone who changed the database causes this: said,
			// and the entry vouches for no one (as it grants no reader
			// at a rotation).
			s.tampered.Store(true)
			s.log.Error("the detail of a memo's submission entry is gone or does not open: its messages go to the office alone; find who changed ledger_details", "memo", o.rec.ID)
			return submissionAuthors{}, submissionUnreadable, nil
		}
		if d.Authors == nil && d.AuthorsBox == "" {
			return d, submissionBefore, nil
		}
		return d, submissionRecorded, nil
	}
	return d, submissionBefore, nil
}

// authorsVouched checks o's roster against the authors its submission
// entry recorded and returns, by user id, the box key each went out
// under: none if the entry's detail is gone, nil for a memo submitted
// before the entry recorded them, whose roster is taken at its word
// (THREAT-MODEL). A roster naming other authors is refused as tampering.
func (s *Service) authorsVouched(ctx context.Context, tx store.Tx, o *opened) (map[string]string, error) {
	d, state, err := s.submission(ctx, tx, o)
	switch {
	case err != nil || state == submissionBefore:
		return nil, err
	case state == submissionUnreadable:
		return map[string]string{}, nil
	}
	byCommit := make(map[string]string, len(d.Authors))
	for _, v := range d.Authors {
		byCommit[v.Commit] = v.Box
	}
	if len(o.roster.Authors) != len(d.Authors) {
		return nil, s.rosterTampered(ctx, tx, o, "the roster's authors are not those the memo went out under")
	}
	out := make(map[string]string, len(o.roster.Authors))
	for _, au := range o.roster.Authors {
		box, ok := byCommit[ledger.ActorCommitment(au.UserID, au.Nonce)]
		if !ok {
			return nil, s.rosterTampered(ctx, tx, o, "the roster names an author the memo did not go out under")
		}
		out[au.UserID] = box
	}
	return out, nil
}

// authorsBoxVouched checks the authors' box in the cover of an anonymous
// report, opened by the office, against the one its submission entry
// recorded: a reader, who holds the memo's key, could otherwise put a key
// of theirs there, and read the office's messages to the reporter, or be
// wrapped the memo's next key at their own removal. It reports false when
// the entry's detail is gone (nothing goes to the box then), and refuses
// a box other than the one recorded as tampering. The office's requests
// alone meet this, never the reporter's.
func (s *Service) authorsBoxVouched(ctx context.Context, tx store.Tx, o *opened) (bool, error) {
	d, state, err := s.submission(ctx, tx, o)
	switch {
	case err != nil:
		return false, err
	case state == submissionBefore:
		return true, nil
	case state == submissionUnreadable:
		return false, nil
	case d.AuthorsBox != o.roster.AuthorsBox:
		return false, s.rosterTampered(ctx, tx, o, "the anonymous report's authors' box is not the one it was submitted with")
	}
	return true, nil
}

// rosterTampered refuses, as tampering, a roster that says other than
// the memo's ledger.
func (s *Service) rosterTampered(ctx context.Context, tx store.Tx, o *opened, why string) error {
	return s.refuseMemo(ctx, tx, o, "a memo's roster says other than its ledger: refused; find who wrote memos.roster", why)
}
