package service

import (
	"context"
	"encoding/hex"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// RevisionInfo is one revision in a memo's history.
type RevisionInfo struct {
	Revision    int       `json:"revision"`
	Title       string    `json:"title"`
	Body        string    `json:"body"`
	Marking     string    `json:"marking"`
	ContentHash string    `json:"content_hash"`
	CreatedAt   time.Time `json:"created_at"`
}

// RevisionList is a page of a memo's history, oldest first; NextCursor
// asks for the next page ("" after the last).
type RevisionList struct {
	Items      []RevisionInfo `json:"items"`
	NextCursor string         `json:"next_cursor"`
}

// cursorRevisions marks a cursor into a memo's revisions.
const cursorRevisions = "revisions"

// Revisions returns a page of a memo's revisions, up to limit (1 or more)
// after the cursor, to its authors and the office (for readers, only the
// submitted text matters). Only the page is read and opened.
func (s *Service) Revisions(ctx context.Context, a *Actor, memoID, cursor string, limit int) (*RevisionList, error) {
	after, err := decodeCursor(cursor)
	if err != nil {
		return nil, err
	}
	if cursor != "" && (after.ID != cursorRevisions || after.Key < 0) {
		return nil, channel.Invalid("cursor", "the cursor is not one this server gave out")
	}
	if limit < 1 {
		return nil, channel.Invalid("limit", "ask for at least one revision")
	}
	out := &RevisionList{}
	err = s.historyTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		out.Items, out.NextCursor = []RevisionInfo{}, ""
		// One more than the page, to know whether another follows.
		revs, err := tx.Revisions(ctx, o.rec.ID, int(after.Key), limit+1)
		if err != nil {
			return err
		}
		if len(revs) > limit {
			revs = revs[:limit]
			out.NextCursor = encodeCursor(pageCursor{ID: cursorRevisions, Key: int64(revs[limit-1].Revision)})
		}
		for _, r := range revs {
			info, err := o.revisionInfo(r)
			if err != nil {
				return err
			}
			out.Items = append(out.Items, info)
		}
		return nil
	})
	return out, err
}

// History is a memo's revision history as its page shows it: when each
// revision was saved, and two of them whole, to compare.
type History struct {
	// Saved lists every revision, oldest first, with its number and
	// time only: the texts and their hashes are in From and To, opened
	// and checked.
	Saved    []RevisionInfo
	From, To RevisionInfo
}

// History returns a memo's history for comparing revision from with
// revision to, to its authors and the office. A number out of range
// stands for the default: to the latest, from the one before to. Two
// revisions are opened whatever the memo's length of history.
func (s *Service) History(ctx context.Context, a *Actor, memoID string, from, to int) (*History, error) {
	out := &History{}
	err := s.historyTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		stamps, err := tx.RevisionStamps(ctx, o.rec.ID)
		if err != nil {
			return err
		}
		out.Saved = make([]RevisionInfo, 0, len(stamps))
		for _, r := range stamps {
			out.Saved = append(out.Saved, RevisionInfo{Revision: r.Revision, CreatedAt: fromMicros(r.CreatedAt)})
		}
		latest := o.rec.Revision
		if to < 1 || to > latest {
			to = latest
		}
		if from < 1 || from > latest {
			from = max(1, to-1)
		}
		for _, p := range []struct {
			n    int
			into *RevisionInfo
		}{{from, &out.From}, {to, &out.To}} {
			r, err := tx.Revision(ctx, o.rec.ID, p.n)
			if err != nil {
				return storeErr(err, "the revision")
			}
			if *p.into, err = o.revisionInfo(r); err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// historyTx runs fn on a memo whose history the actor may see, recording
// the look.
func (s *Service) historyTx(ctx context.Context, a *Actor, memoID string, fn func(tx store.Tx, o *opened) error) error {
	return s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if o.rel == relReader {
			return channel.Errorf(channel.EFORBIDDEN, "the revision history is for the memo's authors and the office")
		}
		if err := fn(tx, o); err != nil {
			return err
		}
		ev := memberEvent("memo.history", a, o, channel.RoleOffice)
		if o.rel == relAuthor {
			ev = authorEvent("memo.history", a, o)
		}
		return s.audit(ctx, tx, ev)
	})
}

// revisionInfo opens r, checking its text against its content hash.
func (o *opened) revisionInfo(r *store.Revision) (RevisionInfo, error) {
	c, hash, err := o.openRevision(r)
	if err != nil {
		return RevisionInfo{}, err
	}
	return RevisionInfo{Revision: r.Revision, Title: c.Title, Body: c.Body, Marking: c.Marking,
		ContentHash: hex.EncodeToString(hash), CreatedAt: fromMicros(r.CreatedAt)}, nil
}
