package service_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReturnHidesNoMissedDeadline: ten memos are acknowledged on
// time; five more sit unacknowledged for three weeks, long past their
// two-working-day deadline (the escalations went out), and the office then
// returns them as out of scope. The year's figures, which are what auditors
// and the public see of timeliness, show every acknowledgement on time:
// the five missed deadlines are counted nowhere (neither "late" nor
// "overdue"), only as "returned". Returning a memo after missing its
// deadline erased the miss from the record the channel publishes (review
// helper-47); a deadline that passed before a memo ended counts now.
func TestReturnHidesNoMissedDeadline(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := noticeDeployment(t, st)
		auditor := d.Create("auditor", false, "auditor")
		alice := d.Member("alice")
		submit := func(n int, tag string) []string {
			var ids []string
			for i := range n {
				m := circulate(t, d, alice, tag+" "+strconv.Itoa(i), true)
				if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
					t.Fatal(err)
				}
				ids = append(ids, m.ID)
			}
			return ids
		}
		onTime := submit(10, "on time")
		d.Clock.Advance(time.Hour)
		for _, id := range onTime {
			if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, id); err != nil {
				t.Fatal(err)
			}
		}
		missed := submit(5, "missed")
		if _, err := d.Svc.RunReminders(d.Ctx); err != nil {
			t.Fatal(err)
		}
		d.Clock.Advance(21 * 24 * time.Hour) // three weeks: every acknowledgement deadline long past
		run, err := d.Svc.RunReminders(d.Ctx)
		if err != nil {
			t.Fatal(err)
		}
		if run.Escalated < 5 {
			t.Fatalf("the missed acknowledgements were not escalated: %+v", run)
		}
		for _, id := range missed {
			if _, err := d.Svc.Return(d.Ctx, d.Office, id, "Not a policy matter."); err != nil {
				t.Fatal(err)
			}
		}
		stats, err := d.Svc.YearStats(d.Ctx, auditor, 2026)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(stats)
		got := string(b)
		if !strings.Contains(got, `"acknowledged":{"ended_before_due":0,"late":5,"on_time":10}`) {
			t.Errorf("five acknowledgement deadlines were missed by three weeks (and escalated), then the memos returned; the figures show every acknowledgement on time:\n%s", got)
		}
	})
}
