package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

func testPublications(t *testing.T, s store.Store) {
	createMemos(t, s, newMemo("m1"), newMemo("m2"), newMemo("m3"), newMemo("m4"))
	doc := bytes.Repeat([]byte("d"), 70000) // past a page: the document is kilobytes
	write(t, s, func(ctx context.Context, tx store.Tx) {
		check(t, tx.PutPublication(ctx, &store.Publication{MemoID: "m1", Title: "First", Marking: "UNCLASSIFIED", PublishedAt: 100, Doc: doc}))
		check(t, tx.PutPublication(ctx, &store.Publication{MemoID: "m3", Title: "Tie, higher id", PublishedAt: 200, Doc: []byte("{}")}))
		check(t, tx.PutPublication(ctx, &store.Publication{MemoID: "m2", Title: "Tie, lower id", PublishedAt: 200, Doc: []byte("{}")}))
	})

	t.Run("a memo is published once", func(t *testing.T) {
		inTx(t, s, true, func(ctx context.Context, tx store.Tx) {
			err := tx.PutPublication(ctx, &store.Publication{MemoID: "m1", Title: "Again", PublishedAt: 300, Doc: []byte("{}")})
			if !errors.Is(err, store.ErrConflict) {
				t.Errorf("publishing m1 again: %v, want ErrConflict", err)
			}
		})
	})

	t.Run("one publication, with its document", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			p, err := tx.Publication(ctx, "m1")
			check(t, err)
			if p.Title != "First" || p.Marking != "UNCLASSIFIED" || p.PublishedAt != 100 || !bytes.Equal(p.Doc, doc) {
				t.Errorf("m1: %q (%q) at %d, %d bytes", p.Title, p.Marking, p.PublishedAt, len(p.Doc))
			}
			if _, err := tx.Publication(ctx, "m4"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("an unpublished memo: %v, want ErrNotFound", err)
			}
		})
	})

	t.Run("publication times of the published among some memos", func(t *testing.T) {
		read(t, s, func(ctx context.Context, tx store.Tx) {
			got, err := tx.PublicationTimes(ctx, []string{"m1", "m2", "m4", "no-such-memo"})
			check(t, err)
			same(t, "publication times", got, map[string]int64{"m1": 100, "m2": 200})
			none, err := tx.PublicationTimes(ctx, nil)
			check(t, err)
			same(t, "publication times of no memo", none, map[string]int64{})
		})
	})

	t.Run("listed newest first, ties by id, a page at a time, without documents", func(t *testing.T) {
		var ids []string
		var afterAt int64
		afterID := ""
		for {
			var page []*store.Publication
			read(t, s, func(ctx context.Context, tx store.Tx) {
				var err error
				page, err = tx.ListPublications(ctx, afterAt, afterID, 2)
				check(t, err)
			})
			for _, p := range page {
				if p.Doc != nil {
					t.Errorf("%s listed with its document", p.MemoID)
				}
				ids = append(ids, p.MemoID)
			}
			if len(page) < 2 {
				break
			}
			afterAt, afterID = page[len(page)-1].PublishedAt, page[len(page)-1].MemoID
		}
		same(t, "publications", ids, []string{"m3", "m2", "m1"})
	})
}
