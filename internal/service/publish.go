package service

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Publication of closed cases, in a profile that publishes them (the
// NRC's Differing Professional Opinion programme): every drafter of a
// memo agrees, each for themselves and for good; once the case is closed
// and its time to appeal over, the office publishes it. A publication is
// the text as submitted, the office's reply, any appeal and its decision,
// and dates: it names no one (the number of authors only), and everyone
// signed in may read it. It is kept in the clear, apart from the memo,
// whose own rows stay sealed; its ledger entry carries the content hash
// of the text, the one in the authors' receipt, so that anyone can check
// that what was published is what was submitted.

// Publication is a published case.
type Publication struct {
	MemoID       string    `json:"memo_id"`
	Title        string    `json:"title"`
	Body         string    `json:"body"`
	Marking      string    `json:"marking"`
	Revision     int       `json:"revision"`
	ContentHash  string    `json:"content_hash"`
	AuthorsCount int       `json:"authors_count"`
	SubmittedAt  time.Time `json:"submitted_at"`
	Reply        *Reply    `json:"reply"`
	Appeal       *Appeal   `json:"appeal,omitempty"`
	ClosedAt     time.Time `json:"closed_at"`
	PublishedAt  time.Time `json:"published_at"`
	// LedgerIndex is the entry that recorded the publication, with the
	// text's content hash.
	LedgerIndex int64 `json:"ledger_index"`
}

// PublicationSummary is a published case in a list.
type PublicationSummary struct {
	MemoID      string    `json:"memo_id"`
	Title       string    `json:"title"`
	Marking     string    `json:"marking"`
	PublishedAt time.Time `json:"published_at"`
}

// PublicationPage is a page of published cases, newest first.
type PublicationPage struct {
	Items      []PublicationSummary `json:"items"`
	NextCursor string               `json:"next_cursor"`
}

// PublicationState is where a memo stands toward publication, as the
// memo shows it (profiles that publish closed cases).
type PublicationState struct {
	Drafters int `json:"drafters"`
	Agreed   int `json:"agreed"` // drafters who agreed to publish it
	// LeftOff counts drafters left off at submission (they could no
	// longer file): they co-wrote the text and cannot agree now, so the
	// case is not published.
	LeftOff     int        `json:"drafters_left_off,omitempty"`
	YouAgreed   bool       `json:"you_agreed,omitempty"`
	PublishedAt *time.Time `json:"published_at,omitempty"`
}

// consentItem records a drafter's agreement to publish, sealed.
type consentItem struct {
	By string `json:"by"`
}

func (s *Service) requirePublishing() error {
	if !s.cfg.Profile.Publish {
		return channel.Errorf(channel.ECONFLICT, "the channel's policy (%s) does not publish cases", s.cfg.Profile.Title)
	}
	return nil
}

// errAnonymousUnpublished refuses to publish an anonymous report (one
// filed under the EU profile, then the deployment moved to the NRC's):
// the office's roster of it names no drafter, so "every drafter agreed"
// would hold of no one, and its author's agreement, sealed under the
// memo's key, would name them to the office and the readers.
var errAnonymousUnpublished = channel.Errorf(channel.ECONFLICT, "an anonymous report is not published: its author could not agree without being named")

// AgreeToPublish records that a drafter agrees to the publication of
// their memo once its case is closed. The agreement is for good.
func (s *Service) AgreeToPublish(ctx context.Context, a *Actor, memoID string) (*Memo, error) {
	if err := s.requirePublishing(); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := s.requireDrafter(a, o); err != nil {
			return err
		}
		if o.roster.Anonymous {
			return errAnonymousUnpublished
		}
		switch st := channel.State(o.rec.State); {
		case !st.Delivered() || st == channel.Returned:
			return channel.Errorf(channel.ECONFLICT, "a memo that is %s is not published", st)
		}
		items, err := tx.Items(ctx, o.rec.ID)
		if err != nil {
			return err
		}
		agreed, err := agreedIn(o, items)
		if err != nil {
			return err
		}
		if agreed[a.User.ID] {
			return channel.Errorf(channel.ECONFLICT, "you agreed to publish this memo already")
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "agree to publish a memo"); err != nil {
			return err
		}
		now := s.now()
		o.rec.UpdatedAt = micros(now)
		if err := s.addItem(ctx, tx, a, o, "consent", consentItem{By: a.User.ID}, now); err != nil {
			return err
		}
		out, _, err = s.save(ctx, tx, a, o, authorEvent("memo.publish_consent", a, o))
		return err
	})
	return out, err
}

// agreedIn are the users who agreed to publish o, by id, as its items
// record.
func agreedIn(o *opened, items []*store.Item) (map[string]bool, error) {
	out := map[string]bool{}
	for _, it := range items {
		if it.Kind != "consent" {
			continue
		}
		plain, err := openBoundField(o.keys, it.KeyVersion, o.rec.ID, itemField(it.Kind, it.ID), itemLegacy(it.ID), it.Sealed)
		if err != nil {
			return nil, err
		}
		var c consentItem
		if err := decodeSealed(plain, &c); err != nil {
			return nil, err
		}
		out[c.By] = true
	}
	return out, nil
}

// publicationState is o's standing toward publication, for its view;
// items are its items.
func (s *Service) publicationState(ctx context.Context, tx store.Tx, a *Actor, o *opened, items []*store.Item) (*PublicationState, error) {
	agreed, err := agreedIn(o, items)
	if err != nil {
		return nil, err
	}
	ps := &PublicationState{YouAgreed: agreed[a.User.ID]}
	for _, au := range o.roster.Authors {
		if au.Kind == channel.KindDrafter {
			ps.Drafters++
			if agreed[au.UserID] {
				ps.Agreed++
			}
		}
	}
	for _, au := range o.roster.Dropped {
		if au.Kind == channel.KindDrafter {
			ps.LeftOff++
		}
	}
	// The time alone: a published document may be large.
	published, err := tx.PublicationTimes(ctx, []string{o.rec.ID})
	if err != nil {
		return nil, err
	}
	if at, ok := published[o.rec.ID]; ok {
		t := fromMicros(at)
		ps.PublishedAt = &t
	}
	return ps, nil
}

// Publish publishes a closed case whose drafters all agreed (office).
func (s *Service) Publish(ctx context.Context, a *Actor, memoID string) (*Publication, error) {
	if err := s.requirePublishing(); err != nil {
		return nil, err
	}
	var out *Publication
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := requireOffice(o); err != nil {
			return err
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "act for the office"); err != nil {
			return err
		}
		now := s.now()
		if o.roster.Anonymous {
			return errAnonymousUnpublished
		}
		if st := channel.State(o.rec.State); st != channel.Closed {
			return channel.Errorf(channel.ECONFLICT, "only a closed case is published, and this memo is %s", st)
		}
		// Appeal takes an appeal up to and at this instant; publishing
		// waits until after it.
		if by := s.appealBy(o.rec); o.rec.AppealedAt == 0 && by != 0 && !now.After(fromMicros(by)) {
			return channel.Errorf(channel.ECONFLICT, "its authors may appeal until %s: publish it after that", s.when(by))
		}
		items, err := tx.Items(ctx, o.rec.ID)
		if err != nil {
			return err
		}
		ps, err := s.publicationState(ctx, tx, a, o, items)
		if err != nil {
			return err
		}
		if ps.PublishedAt != nil {
			return channel.Errorf(channel.ECONFLICT, "this case is published already")
		}
		if ps.LeftOff > 0 {
			return channel.Errorf(channel.ECONFLICT, "%d of its drafters were left off at submission and cannot agree to publish it: every drafter must, so it is not published", ps.LeftOff)
		}
		if ps.Agreed < ps.Drafters {
			return channel.Errorf(channel.ECONFLICT, "%d of its %d drafters agreed to publish it: every drafter must", ps.Agreed, ps.Drafters)
		}
		_, hash, err := o.content(ctx, tx, o.rec.Revision)
		if err != nil {
			return err
		}
		o.rec.UpdatedAt = micros(now)
		ev := memberEvent("memo.publish", a, o, channel.RoleOffice)
		ev.content, ev.revision = hash, o.rec.Revision
		m, idx, err := s.save(ctx, tx, a, o, ev)
		if err != nil {
			return err
		}
		p := &Publication{MemoID: o.rec.ID, Title: m.Title, Body: m.Body, Marking: m.Marking, Revision: m.Revision,
			ContentHash: m.ContentHash, AuthorsCount: len(o.roster.Authors), SubmittedAt: fromMicros(o.rec.SubmittedAt),
			Reply: m.Reply, Appeal: m.Appeal, ClosedAt: fromMicros(o.rec.EndedAt), PublishedAt: now.UTC(), LedgerIndex: idx}
		doc, err := json.Marshal(p)
		if err != nil {
			return err
		}
		if err := tx.PutPublication(ctx, &store.Publication{MemoID: p.MemoID, Title: p.Title, Marking: p.Marking, PublishedAt: micros(now), Doc: doc}); err != nil {
			return err
		}
		out = p
		return nil
	})
	return out, err
}

// GetPublication returns a published case, to anyone signed in; the read
// is recorded (without saying which case: it is public).
func (s *Service) GetPublication(ctx context.Context, a *Actor, memoID string) (*Publication, error) {
	if !channel.ValidID(memoID) {
		return nil, channel.ErrNotFound
	}
	var out Publication
	err := s.inTx(ctx, true, func(tx store.Tx) error {
		p, err := tx.Publication(ctx, memoID)
		if errors.Is(err, store.ErrNotFound) {
			return channel.ErrNotFound
		} else if err != nil {
			return err
		}
		if err := s.publicationStands(ctx, tx, p, &out); err != nil {
			return err
		}
		return s.audit(ctx, tx, event{action: "publication.read", actor: a})
	})
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// publicationStands decodes a published case into doc and refuses it, as
// tampering, unless its text is the one its memo.publish ledger entry
// recorded (that entry carries the content hash of the text as submitted)
// and its row's title and marking are the text's. The publication is the
// one copy of a case everyone can read, and it lies in the clear: whoever
// writes the database could otherwise put words in its authors' mouths
// under the receipt's hash.
func (s *Service) publicationStands(ctx context.Context, tx store.Tx, row *store.Publication, doc *Publication) error {
	tampered := func(why string) error {
		s.tampered.Store(true)
		return errInternal("published case %s: %s: the database was changed", row.MemoID, why)
	}
	if why := decodePublication(row, doc); why != "" {
		return tampered(why)
	}
	leaves, err := tx.LedgerStorage("", "").ReadLeaves(ctx, doc.LedgerIndex, doc.LedgerIndex+1)
	if err != nil || len(leaves) != 1 {
		return tampered(fmt.Sprintf("its ledger entry %d cannot be read", doc.LedgerIndex))
	}
	l, err := ledger.DecodeLeaf(leaves[0])
	if err != nil || l.Action != "memo.publish" || l.Memo != row.MemoID || l.Content != doc.ContentHash {
		return tampered(fmt.Sprintf("ledger entry %d did not publish this text", doc.LedgerIndex))
	}
	return nil
}

// decodePublication decodes row's document into doc and says why it does
// not stand on its own ("" when it does): its text must hash to the
// content hash it names, and the row's id, title and marking must be its.
func decodePublication(row *store.Publication, doc *Publication) (why string) {
	if err := json.Unmarshal(row.Doc, doc); err != nil {
		return "its document does not decode"
	}
	h := vault.ContentHash(doc.Title, doc.Body, doc.Marking)
	if doc.MemoID != row.MemoID || doc.Title != row.Title || doc.Marking != row.Marking || doc.ContentHash != hex.EncodeToString(h[:]) {
		return "its text is not the one its content hash names"
	}
	if doc.LedgerIndex < 0 {
		return "it names no ledger entry"
	}
	return ""
}

// Publications lists the published cases, newest first, to anyone
// signed in.
func (s *Service) Publications(ctx context.Context, a *Actor, cursor string, limit int) (*PublicationPage, error) {
	c, err := decodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	if limit < 1 || limit > 200 {
		return nil, channel.Invalid("limit", "limit must be a number from 1 to 200")
	}
	page := &PublicationPage{Items: []PublicationSummary{}}
	err = s.inTx(ctx, false, func(tx store.Tx) error {
		ps, err := tx.ListPublications(ctx, c.Key, c.ID, limit+1)
		if err != nil {
			return err
		}
		for i, p := range ps {
			if i == limit {
				last := ps[i-1]
				page.NextCursor = encodeCursor(pageCursor{Key: last.PublishedAt, ID: last.MemoID})
				break
			}
			page.Items = append(page.Items, PublicationSummary{MemoID: p.MemoID, Title: p.Title, Marking: p.Marking, PublishedAt: fromMicros(p.PublishedAt)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}
