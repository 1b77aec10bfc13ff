package service

import (
	"context"
	"encoding/json"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// Review58ForgeRoster rewrites memo memoID's roster as someone who holds
// a's keys (a reader: the memo's key) and can write the database could:
// the roster a's way in opens, changed by change (given a's own box key),
// sealed again under the memo's current key and written to the row.
func (s *Service) Review58ForgeRoster(ctx context.Context, a *Actor, memoID string, change func(r *channel.Roster, box string)) error {
	return s.inTx(ctx, true, func(tx store.Tx) error {
		o, err := s.openMemo(ctx, tx, a, memoID, false)
		if err != nil {
			return err
		}
		change(&o.roster, a.id.Public().Box)
		b, err := sealJSON(o.keys, o.rec.KeyVersion, o.rec.ID, "roster", o.roster)
		if err != nil {
			return err
		}
		o.rec.Roster = b
		return tx.UpdateMemo(ctx, o.rec)
	})
}

// Review58MessagesOpened returns the message bodies a's own identity opens
// from a copy of the database alone, whatever the service would let a
// open: memo keys from every access row a's identity unwraps (a reader's
// own, or any other wrapped to a's box, such as one to the authors'
// group) and every key mailed to it, then every message item those keys open, then its body, if
// sealed to a's box (or under the memo's key alone).
func (s *Service) Review58MessagesOpened(ctx context.Context, a *Actor, memoID string) ([]string, error) {
	var bodies []string
	err := s.inTx(ctx, false, func(tx store.Tx) error {
		bodies = nil
		access, err := tx.AccessList(ctx, memoID)
		if err != nil {
			return err
		}
		keys := memoKeys{}
		for _, acc := range access {
			if k, err := a.id.UnwrapKey(acc.Wrapped); err == nil {
				keys[acc.KeyVersion] = k
			}
		}
		// Mail sealed to a's box (a key rotation mails an author the
		// memo's new key).
		mail, err := tx.MailSince(ctx, 0, "", 10000)
		if err != nil {
			return err
		}
		for _, m := range mail {
			plain, err := a.id.OpenSealed(m.Sealed)
			if err != nil {
				continue
			}
			var e keyEntry
			if json.Unmarshal(plain, &e) != nil || e.Memo != memoID {
				continue
			}
			if ks, err := decodeKeys(e.Keys); err == nil {
				for v, k := range ks {
					keys[v] = k
				}
			}
		}
		items, err := tx.Items(ctx, memoID)
		if err != nil {
			return err
		}
		for _, it := range items {
			if it.Kind != "message" {
				continue
			}
			p, err := openBoundField(keys, it.KeyVersion, memoID, itemField(it.Kind, it.ID), itemLegacy(it.ID), it.Sealed)
			if err != nil {
				continue
			}
			var t textItem
			if err := json.Unmarshal(p, &t); err != nil {
				return err
			}
			if t.Box == nil {
				bodies = append(bodies, t.Body)
				continue
			}
			if b, err := a.id.OpenSealed(t.Box); err == nil {
				bodies = append(bodies, string(b))
			}
		}
		return nil
	})
	return bodies, err
}
