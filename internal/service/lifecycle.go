package service

import (
	"context"
	"fmt"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

// A memo's row says where the memo is in its lifecycle (its state) and
// when it took each step, in the clear: the office's inbox, the reminders
// and the yearly figures read those columns. Someone who writes the
// database could set them apart from what happened: a memo set to closed
// drops out of the office's inbox and its reminders stop; an
// acknowledgement dated back makes the office look timely. Every step is
// an entry in the memo's ledger, so wherever a memo is opened its row is
// checked against its history, as its keys are (keysVouched), and a row
// that disagrees is refused as tampering. The deadlines are not checked:
// they follow from the submission's date and the calendar and policy of
// the day, which the ledger does not keep.

// steps is where a memo is and when it took each step (unix µs, 0 for
// never), as its row says or as its ledger does.
type steps struct {
	state                                                      string
	submitted, acknowledged, replied, ended, appealed, decided int64
	// The deadlines the submission and an appeal set, exactly; 0 in the
	// ledger's steps when its entries did not record them (before
	// December 2026), and then not checked.
	acknowledgeBy, replyBy, replyLatest, decideBy int64
}

func rowSteps(m *store.Memo) steps {
	return steps{state: m.State, submitted: m.SubmittedAt, acknowledged: m.AcknowledgedAt, replied: m.RepliedAt,
		ended: m.EndedAt, appealed: m.AppealedAt, decided: m.AppealRepliedAt,
		acknowledgeBy: m.AcknowledgeBy, replyBy: m.ReplyBy, replyLatest: m.ReplyLatest, decideBy: m.AppealReplyBy}
}

// factSteps is rowSteps of the columns the yearly figures read.
func factSteps(f store.MemoFacts) steps {
	return steps{state: f.State, submitted: f.SubmittedAt, acknowledged: f.AcknowledgedAt, replied: f.RepliedAt,
		ended: f.EndedAt, appealed: f.AppealedAt, decided: f.AppealRepliedAt,
		acknowledgeBy: f.AcknowledgeBy, replyBy: f.ReplyBy, replyLatest: f.ReplyLatest, decideBy: f.AppealReplyBy}
}

// stepSlack is how far a step's time on the row may be from its entry's:
// the service dates the row when the step begins and the entry when it
// is appended, in the same transaction.
const stepSlack = time.Minute

// lifecycleActions are the ledger actions of a memo's lifecycle steps,
// those stepsOf replays.
var lifecycleActions = []string{"memo.invite", "memo.submit", "memo.acknowledge", "memo.reply", "memo.return",
	"memo.withdraw", "memo.close", "memo.appeal", "memo.decide"}

// ledgerSteps is stepsOf the entries of a memo's history.
func ledgerSteps(entries []store.LedgerEntry) (steps, error) {
	leaves := make([]ledger.Leaf, 0, len(entries))
	for _, e := range entries {
		l, err := ledger.DecodeLeaf(e.Data)
		if err != nil {
			return steps{}, errInternal("ledger leaf %d: %w", e.Index, err)
		}
		leaves = append(leaves, l)
	}
	return stepsOf(leaves), nil
}

// stepsOf replays a memo's ledger leaves, oldest first, as the service
// takes the steps (channel.Transition and the Service's methods that call
// it); other leaves are passed over.
func stepsOf(leaves []ledger.Leaf) steps {
	st := steps{state: string(channel.Draft)}
	for _, l := range leaves {
		at := l.Time.UnixMicro()
		switch l.Action {
		case "memo.invite":
			st.state = string(channel.Circulating)
		case "memo.submit":
			st.state, st.submitted = string(channel.Submitted), at
			if due := dueOf(l); len(due) == 3 {
				st.acknowledgeBy, st.replyBy, st.replyLatest = due[0], due[1], due[2]
			}
		case "memo.acknowledge":
			st.state, st.acknowledged = string(channel.Acknowledged), at
		case "memo.reply":
			st.state, st.replied = string(channel.Replied), at
			if st.acknowledged == 0 {
				st.acknowledged = at // a reply acknowledges too
			}
		case "memo.return":
			st.state, st.ended = string(channel.Returned), at
		case "memo.withdraw":
			st.state, st.ended = string(channel.Withdrawn), at
		case "memo.close":
			st.state, st.ended = string(channel.Closed), at
		case "memo.appeal":
			st.state, st.appealed, st.ended = string(channel.Appealed), at, 0
			if due := dueOf(l); len(due) == 1 {
				st.decideBy = due[0]
			}
		case "memo.decide":
			st.state, st.decided = string(channel.Replied), at
		}
	}
	return st
}

// dueOf is the deadlines a leaf records, unix µs; none if it records
// none (a leaf that validates records them well).
func dueOf(l ledger.Leaf) []int64 {
	if l.Due == "" {
		return nil
	}
	ts, err := ledger.ParseDue(l.Due)
	if err != nil {
		return nil
	}
	out := make([]int64, len(ts))
	for i, t := range ts {
		out[i] = t.UnixMicro()
	}
	return out
}

// disagreement says how row departs from what the ledger says, or "".
func (l steps) disagreement(row steps) string {
	if row.state != l.state {
		return fmt.Sprintf("the row says %s, the ledger %s", row.state, l.state)
	}
	// Deadlines the ledger recorded are the row's exactly: the figures
	// judge the office by them.
	for _, f := range []struct {
		name        string
		ledger, row int64
	}{
		{"acknowledge by", l.acknowledgeBy, row.acknowledgeBy}, {"reply by", l.replyBy, row.replyBy},
		{"reply at the latest", l.replyLatest, row.replyLatest}, {"decide on appeal by", l.decideBy, row.decideBy},
	} {
		if f.ledger != 0 && f.row != f.ledger {
			return fmt.Sprintf("%s %s on the row, %s in the ledger", f.name, stamp(f.row), stamp(f.ledger))
		}
	}
	for _, f := range []struct {
		name        string
		ledger, row int64
	}{
		{"submitted", l.submitted, row.submitted}, {"acknowledged", l.acknowledged, row.acknowledged},
		{"replied", l.replied, row.replied}, {"ended", l.ended, row.ended},
		{"appealed", l.appealed, row.appealed}, {"decided on appeal", l.decided, row.decided},
	} {
		// Compared without subtracting: row-ledger overflows for a row
		// time near math.MinInt64, and its "absolute value" with it
		// (review 57). A ledger time is within years 1 to 9999, far from
		// the int64 bounds.
		if (f.ledger == 0) != (f.row == 0) || f.row < f.ledger-stepSlack.Microseconds() || f.row > f.ledger+stepSlack.Microseconds() {
			return fmt.Sprintf("%s at %s on the row, at %s in the ledger", f.name, stamp(f.row), stamp(f.ledger))
		}
	}
	return ""
}

func stamp(us int64) string {
	if us == 0 {
		return "never"
	}
	return fromMicros(us).Format(time.RFC3339Nano)
}

// lifecyclePage is how many memos CheckLifecycles reads at a time (a
// variable for tests).
var lifecyclePage = 500

// CheckLifecycles checks the row of every memo, opened lately or not,
// against the lifecycle steps of its ledger, a page of memos at a time:
// a memo set apart so that nobody opens it (closed, or back to a draft,
// to leave the office's inbox) is found within a run of the background
// job that calls it. Each disagreement is logged as tampering and stops
// this node reporting ready; the check goes on to find every one, and
// returns how many memos it checked and how many disagreed. A memo that a
// step changed while it was read is passed over, for the next run.
func (s *Service) CheckLifecycles(ctx context.Context) (checked, bad int, err error) {
	if err := s.inTx(ctx, false, func(tx store.Tx) error { return s.memosWellTyped(ctx, tx) }); err != nil {
		if channel.ErrorCode(err) != channel.EUNAVAILABLE {
			return 0, 0, err
		}
		bad++
	}
	after := ""
	for {
		var page []*store.Memo
		var disagree int
		err := s.inTx(ctx, false, func(tx store.Tx) error {
			before, err := ledgerSize(ctx, tx)
			if err != nil {
				return err
			}
			page, err = tx.ListMemos(ctx, store.MemoFilter{ByID: true, AfterID: after, Limit: lifecyclePage, Light: true})
			if err != nil || len(page) == 0 {
				return err
			}
			rows := make([]stepsRow, len(page))
			for i, m := range page {
				rows[i] = stepsRow{m.ID, rowSteps(m)}
			}
			disagree, err = s.rowsDisagree(ctx, tx, rows, before)
			return err
		})
		if err != nil || len(page) == 0 {
			return checked, bad, err
		}
		checked, bad = checked+len(page), bad+disagree
		after = page[len(page)-1].ID
	}
}

// memosWellTyped refuses, as tampering, a memo's row that holds a value of
// another type than its column's (store.Tx.MistypedMemo): it would read
// back as the value the checks compare with the ledger, while the
// database's own comparisons (the figures' year, the lists) pass it by.
func (s *Service) memosWellTyped(ctx context.Context, tx store.Tx) error {
	id, err := tx.MistypedMemo(ctx)
	if err != nil || id == "" {
		return err
	}
	s.tampered.Store(true)
	s.log.Error("a memo's row holds a value of the wrong type, which hides it from the database's comparisons; find who wrote the memo's row", "memo", id)
	return channel.Errorf(channel.EUNAVAILABLE, "the records of a memo were altered in the database; the operators are told (the server's log names the memo)")
}

// stepsRow is a memo's row as the lifecycle checks read it.
type stepsRow struct {
	id    string
	steps steps
}

// rowsDisagree checks rows against the lifecycle steps of their memos'
// ledgers, read at once, and returns how many disagree: each is logged as
// tampering and stops this node reporting ready. before is the ledger's
// size read before the rows were.
func (s *Service) rowsDisagree(ctx context.Context, tx store.Tx, rows []stepsRow, before int64) (int, error) {
	ids := make([]string, len(rows))
	for i, r := range rows {
		ids[i] = r.id
	}
	entries, err := tx.MemoSteps(ctx, ids, lifecycleActions)
	if err != nil {
		return 0, err
	}
	byMemo := make(map[string][]ledger.Leaf, len(rows))
	newer := map[string]bool{}
	for _, e := range entries {
		l, err := ledger.DecodeLeaf(e.Data)
		if err != nil {
			return 0, errInternal("ledger leaf %d: %w", e.Index, err)
		}
		byMemo[l.Memo] = append(byMemo[l.Memo], l)
		if e.Index >= before {
			newer[l.Memo] = true
		}
	}
	bad := 0
	for _, r := range rows {
		// On PostgreSQL the leaves were read after the row: a step taken
		// in between shows in them and not in the row, with an entry at
		// the size read before the row or past it (a step writes its row
		// and appends its entry in one transaction). Not the row's
		// version, which whoever writes the row can move as they please
		// (review 57). Such a memo waits for the next check.
		why := stepsOf(byMemo[r.id]).disagreement(r.steps)
		if why == "" || newer[r.id] {
			continue
		}
		bad++
		s.tampered.Store(true)
		s.log.Error("a memo's row says other than its ledger of where it is; find who wrote the memo's row", "memo", r.id, "problem", why)
	}
	return bad, nil
}
