package service

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
)

// TestReview66EndedMemosInTheTimelinessTablesAreASmallCountInTheClear:
// the figures' rule 2/3 (stats.go, OPERATIONS.md "Small counts") is that
// every table's total is known to the reader - the year's total or a sum of
// shown state counts - and that any count from 1 to 4 reads "<5". Since the
// acknowledged and replied tables count returned and withdrawn memos only
// when a deadline came due before they ended (endedAck, endedReply), their
// totals are neither: they are the shown states' memos plus a subset of the
// returned and withdrawn ones. That subset is a count of its own, in the
// clear by subtraction. Here 15 memos are closed (10 acknowledged and
// replied on time, 5 acknowledged late and replied within the latest date),
// 5 returned and 5 withdrawn; of those ten, two were returned after their
// acknowledgement had fallen due unanswered, and one was withdrawn after
// the office, having acknowledged it, missed its reply deadline; the rest
// ended at once. Every cell shown is 5 or more, yet acknowledged (on_time +
// late) less the closed count gives exactly 3, and replied less closed
// exactly 1: "one memo's authors withdrew it after the office let the reply
// deadline pass", a count of one, which the threshold exists to hide.
func TestReview66EndedMemosInTheTimelinessTablesAreASmallCountInTheClear(t *testing.T) {
	cal := usFederal(t)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, cal.Location())
	var facts []store.MemoFacts
	day := 0
	sub := func() time.Time { day++; return time.Date(2026, 2, 2+day%20, 10, 0, 0, 0, cal.Location()) }
	add := func(n int, state channel.State, ack, reply int) {
		for range n {
			facts = append(facts, memoFacts(cal, sub(), state, ack, reply, 2))
		}
	}
	add(10, channel.Closed, 1, 20) // acknowledged and replied on time
	add(5, channel.Closed, 4, 45)  // acknowledged late, replied after 30 working days, within 60
	for i := range facts {
		facts[i].EndedAt = facts[i].RepliedAt + int64(time.Hour/time.Microsecond)
	}
	ended := func(state channel.State, ack int, endAfter func(f store.MemoFacts) int64) {
		f := memoFacts(cal, sub(), state, ack, -1, 2)
		f.EndedAt = endAfter(f)
		facts = append(facts, f)
	}
	hour := int64(time.Hour / time.Microsecond)
	// Returned: three at once (nothing had come due), two a week after
	// their acknowledgement fell due unanswered.
	for range 3 {
		ended(channel.Returned, -1, func(f store.MemoFacts) int64 { return f.SubmittedAt + hour })
	}
	for range 2 {
		ended(channel.Returned, -1, func(f store.MemoFacts) int64 { return f.AcknowledgeBy + 7*24*hour })
	}
	// Withdrawn: four at once, one acknowledged and withdrawn after the
	// office had missed its reply deadline (within the latest date).
	for range 4 {
		ended(channel.Withdrawn, -1, func(f store.MemoFacts) int64 { return f.SubmittedAt + hour })
	}
	ended(channel.Withdrawn, 1, func(f store.MemoFacts) int64 { return f.ReplyBy + 24*hour })

	st := computeStats(2026, facts, cal, now, 5)
	b, _ := json.Marshal(st)
	for _, s := range []string{"closed", "returned", "withdrawn"} {
		if !st.States[s].Shown() {
			t.Fatalf("the example needs the %s count shown: %s", s, b)
		}
	}
	closed := st.States["closed"].n
	total := func(m map[string]Count, cells []string) (int, bool) {
		n := 0
		for _, c := range cells {
			if !m[c].Shown() {
				return 0, false
			}
			n += m[c].n
		}
		return n, true
	}
	if n, ok := total(st.Acknowledged, statsAcknowledged); ok {
		if d := n - closed; d > 0 && d < 5 {
			t.Errorf("the acknowledged table (%d memos) less the closed memos (%d) tells that exactly %d returned or withdrawn memos had an acknowledgement fall due before they ended: a count under the threshold, in the clear:\n%s", n, closed, d, b)
		}
	}
	if n, ok := total(st.Replied, statsReplied); ok {
		if d := n - closed; d > 0 && d < 5 {
			t.Errorf("the replied table (%d memos) less the closed memos (%d) tells that exactly %d returned or withdrawn memo(s) ended after the office missed the reply deadline: a count under the threshold, in the clear:\n%s", n, closed, d, b)
		}
	}
}
