package service

import (
	"context"
	"sync"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
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
		var m textItem
		if err := openJSON(o.keys, it.KeyVersion, o.rec.ID, itemField(it.Kind, it.ID), it.Sealed, &m); err != nil {
			return false, err
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
// memo either) and accounts disabled.
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
		return append(to, o.roster.AuthorsBox), nil
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
		if u.Disabled || u.BoxPublic == "" {
			continue
		}
		if held, err := s.keysHeld(ctx, tx, u); err != nil {
			return nil, err
		} else if held {
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
