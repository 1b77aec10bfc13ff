package service

import (
	"context"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// WriteAnchorsUnsealed makes s write anchoring entries without anchor_of,
// as releases before December 2026 did.
func WriteAnchorsUnsealed(s *Service) { s.unsealedAnchors = true }

// ForgeAnchorLeaf returns the leaf data with its content made the anchor
// of other keys, as someone who can write the database but holds no
// ledger key could rewrite an entry (tests of anchor.go).
func ForgeAnchorLeaf(data []byte, subject, username, box string, sign []byte) ([]byte, error) {
	l, err := ledger.DecodeLeaf(data)
	if err != nil {
		return nil, err
	}
	l.Content = ledger.KeyAnchor(subject, username, box, sign)
	return l.Encode()
}

// SetMemoCaps lowers what one memo holds at most: drafters and signers,
// revisions, and messages or comments from its authors and readers.
func SetMemoCaps(s *Service, authors, revisions, thread int) {
	s.caps = memoCaps{authors: authors, revisions: revisions, thread: thread}
}

// SetLifecyclePage makes CheckLifecycles read n memos at a time, until the
// function it returns puts it back.
func SetLifecyclePage(n int) func() {
	old := lifecyclePage
	lifecyclePage = n
	return func() { lifecyclePage = old }
}

// AddMessageAsBefore writes a message as the first release of messages
// did: its body sealed under the memo's key alone.
func (s *Service) AddMessageAsBefore(ctx context.Context, a *Actor, memoID, body string) error {
	return s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := s.addItem(ctx, tx, a, o, "message", textItem{Body: body, From: fromOffice}, s.now()); err != nil {
			return err
		}
		_, _, err := s.save(ctx, tx, a, o, memberEvent("memo.message", a, o, "office"))
		return err
	})
}
