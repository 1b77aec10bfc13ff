package service

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"strconv"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/vault"
)

// Plaintexts opens memo memoID as a would (the office, a reader) and
// returns everything sealed under the keys a's way in unwraps, whatever
// the service would show of it: the roster, every revision, every item,
// every ledger detail, every added reader's reason. What a holds the keys
// to, a could read from a copy of the database; tests of anonymous
// reports look in it for the author.
func (s *Service) Plaintexts(ctx context.Context, a *Actor, memoID string) ([][]byte, error) {
	var out [][]byte
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		out = nil
		o, err := s.openMemo(ctx, tx, a, memoID, false)
		if err != nil {
			return err
		}
		for kv := range o.keys {
			if p, err := openField(o.keys, kv, memoID, "roster", o.rec.Roster); err == nil {
				out = append(out, p)
			}
		}
		for rev := 1; rev <= o.rec.Revision; rev++ {
			r, err := tx.Revision(ctx, memoID, rev)
			if err != nil {
				return err
			}
			p, err := openBoundField(o.keys, r.KeyVersion, memoID, revisionField(rev), "revision", r.Sealed)
			if err != nil {
				return err
			}
			out = append(out, p)
		}
		items, err := tx.Items(ctx, memoID)
		if err != nil {
			return err
		}
		// A message's body is sealed further, to the office and the
		// authors: what a's own keys open of it.
		var office *vault.Identity
		if a.Has(channel.RoleOffice) {
			office, _ = s.officeIdentity(ctx, tx, a)
		}
		for _, it := range items {
			p, err := openBoundField(o.keys, it.KeyVersion, memoID, itemField(it.Kind, it.ID), itemLegacy(it.ID), it.Sealed)
			if err != nil {
				continue
			}
			out = append(out, p)
			var t textItem
			if it.Kind != "message" || json.Unmarshal(p, &t) != nil || t.Box == nil {
				continue
			}
			for _, id := range []*vault.Identity{office, a.id} {
				if id == nil {
					continue
				}
				if body, err := id.OpenSealed(t.Box); err == nil {
					out = append(out, body)
				}
			}
		}
		history, err := tx.MemoLedger(ctx, memoID)
		if err != nil {
			return err
		}
		reads, err := tx.MemoReads(ctx, memoID, -1, 1000)
		if err != nil {
			return err
		}
		for _, e := range append(history, reads...) {
			if len(e.Detail) < 4 {
				continue
			}
			kv := int(binary.BigEndian.Uint32(e.Detail))
			if k, ok := o.keys[kv]; ok {
				if p, err := vault.Open(k, vault.AD("ledger-detail", memoID, strconv.Itoa(kv)), e.Detail[4:]); err == nil {
					out = append(out, p)
				}
			}
		}
		access, err := tx.AccessList(ctx, memoID)
		if err != nil {
			return err
		}
		for _, acc := range access {
			if p, err := openField(o.keys, acc.KeyVersion, memoID, "reason", acc.Reason); err == nil {
				out = append(out, p)
			}
		}
		return nil
	})
	return out, err
}
