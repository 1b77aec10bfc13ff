package service

import (
	"context"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// Appeal is the authors' appeal of the office's reply, in a profile that
// has appeals (the NRC's Differing Professional Opinion programme): the
// memo goes back to the office, which owes a decision on appeal by the
// profile's deadline. A drafter appeals, with a reason, once per memo,
// until the appeal window that the reply opened closes; a closed case may
// be appealed within it too, a published one not. The office answers with
// DecideAppeal.
func (s *Service) Appeal(ctx context.Context, a *Actor, memoID, reason string) (*Memo, error) {
	if err := channel.ValidateText("reason", reason, channel.MaxReason); err != nil {
		return nil, err
	}
	var out *Memo
	err := s.memoTx(ctx, a, memoID, func(tx store.Tx, o *opened) error {
		if err := s.requireDrafter(a, o); err != nil {
			return err
		}
		next, err := channel.Transition(channel.State(o.rec.State), channel.ActAppeal)
		if err != nil {
			return err
		}
		now, by := s.now(), s.appealBy(o.rec)
		switch {
		case o.rec.AppealedAt != 0:
			return channel.Errorf(channel.ECONFLICT, "this memo was appealed already: the decision on appeal is final")
		case !s.cfg.Profile.Appeals() || by == 0:
			return channel.Errorf(channel.ECONFLICT, "the reply to this memo cannot be appealed: the channel's policy (%s) has no appeal", s.cfg.Profile.Title)
		case now.After(fromMicros(by)):
			return channel.Errorf(channel.ECONFLICT, "the time to appeal ended on %s", s.when(by))
		}
		// A case published once its time to appeal was over stays as
		// published (another node's clock may differ by a moment).
		if published, err := tx.PublicationTimes(ctx, []string{o.rec.ID}); err != nil {
			return err
		} else if len(published) > 0 {
			return channel.Errorf(channel.ECONFLICT, "this case is published: its time to appeal is over")
		}
		if err := s.requireConfirmedKeys(ctx, tx, a, "appeal a reply"); err != nil {
			return err
		}
		due := s.cfg.Profile.AppealReplyBy(s.cfg.Calendar, now)
		o.rec.State, o.rec.UpdatedAt, o.rec.EndedAt = string(next), micros(now), 0
		o.rec.AppealBy, o.rec.AppealedAt, o.rec.AppealReplyBy, o.rec.DueAt = by, micros(now), micros(due), micros(due)
		if err := s.addItem(ctx, tx, a, o, "appeal", reasonItem{Reason: reason}, now); err != nil {
			return err
		}
		ev := authorEvent("memo.appeal", a, o)
		ev.due = []int64{o.rec.AppealReplyBy}
		if out, _, err = s.save(ctx, tx, a, o, ev); err != nil {
			return err
		}
		return s.noticeAppealed(ctx, tx, o.rec, due)
	})
	return out, err
}

// appealBy is until when the authors of m may appeal its reply (0: they
// may not): the time its reply opened, or for a memo replied to under
// this profile before appeals were recorded (migration 0010), the time the
// profile gives from that reply.
func (s *Service) appealBy(m *store.Memo) int64 {
	switch p := s.cfg.Profile; {
	case m.AppealBy != 0:
		return m.AppealBy
	case m.RepliedAt != 0 && p.Appeals() && m.Profile == p.Name:
		return micros(p.AppealBy(s.cfg.Calendar, fromMicros(m.RepliedAt)))
	}
	return 0
}

// when is a moment as the office reads it.
func (s *Service) when(us int64) string {
	return fromMicros(us).In(s.cfg.Calendar.Location()).Format("Mon 2 Jan 2006 15:04 MST")
}

// DecideAppeal records the office's decision on the authors' appeal,
// which is final; the authors read it. The first reply keeps its time,
// which the figures count.
func (s *Service) DecideAppeal(ctx context.Context, a *Actor, memoID, body string) (*Memo, error) {
	if err := channel.ValidateText("body", body, s.cfg.MaxBody); err != nil {
		return nil, err
	}
	return s.officeStep(ctx, a, memoID, channel.ActDecide, func(tx store.Tx, o *opened, now time.Time) (map[string]any, error) {
		o.rec.AppealRepliedAt, o.rec.DueAt = micros(now), 0
		return nil, s.addItem(ctx, tx, a, o, "decision", textItem{Body: body}, now)
	})
}

// noticeAppealed tells the office's members that an appeal arrived and
// when its decision falls due, as a submission's arrival does.
func (s *Service) noticeAppealed(ctx context.Context, tx store.Tx, m *store.Memo, due time.Time) error {
	office, err := s.officeRecipients(ctx, tx)
	if err != nil {
		return err
	}
	_, err = s.notify(ctx, tx, office, KindAppealed, m.ID, due, s.reminders())
	return err
}
