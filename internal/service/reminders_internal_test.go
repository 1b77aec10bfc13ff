package service

import (
	"slices"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/workdays"
)

func usFederal(t *testing.T) *workdays.Calendar {
	t.Helper()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	cal, err := workdays.New(workdays.Config{Location: ny, Holidays: "us-federal"})
	if err != nil {
		t.Fatal(err)
	}
	return cal
}

func wall(t *testing.T, cal *workdays.Calendar, s string) time.Time {
	t.Helper()
	v, err := time.ParseInLocation("2006-01-02 15:04", s, cal.Location())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestRemindAt counts reminder days back over weekends and holidays as
// deadlines count them forward.
func TestRemindAt(t *testing.T) {
	cal := usFederal(t)
	for _, c := range []struct {
		name     string
		deadline string
		lead     int
		want     string
	}{
		{"the working day before a Friday after Thanksgiving is the Wednesday", "2026-11-27 17:00", 1, "2026-11-25 09:00"},
		{"lead 0 is the morning of the deadline", "2026-11-27 17:00", 0, "2026-11-27 09:00"},
		{"five working days back skip Thanksgiving and a weekend", "2026-11-27 17:00", 5, "2026-11-19 09:00"},
		{"the day before a Monday after July 4th observed is the Thursday", "2026-07-06 17:00", 1, "2026-07-02 09:00"},
		{"five working days before 8 January 2027 skip New Year's Day", "2027-01-08 17:00", 5, "2026-12-31 09:00"},
		{"a deadline on a Saturday counts back from its own day", "2026-11-28 10:00", 1, "2026-11-27 09:00"},
		{"across the spring clock change the morning stays 09:00", "2026-03-09 17:00", 1, "2026-03-06 09:00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got := remindAt(cal, wall(t, cal, c.deadline), c.lead)
			if want := wall(t, cal, c.want); !got.Equal(want) {
				t.Errorf("remindAt(%s, %d) = %s, want %s", c.deadline, c.lead, got.In(cal.Location()), c.want)
			}
		})
	}
}

// TestDueReminders walks a memo submitted the Tuesday before Thanksgiving
// 2026 through the moments that matter.
func TestDueReminders(t *testing.T) {
	cal := usFederal(t)
	p := DefaultReminders()
	submitted := wall(t, cal, "2026-11-24 10:00")
	d := channel.Profiles["state-2fam070"].Deadlines(cal, submitted)
	m := &store.Memo{ID: "m", State: string(channel.Submitted), SubmittedAt: micros(submitted),
		AcknowledgeBy: micros(d.AcknowledgeBy), ReplyBy: micros(d.ReplyBy), ReplyLatest: micros(d.ReplyLatest)}
	kinds := func(rs []reminder) []string {
		out := []string{}
		for _, r := range rs {
			out = append(out, r.kind())
		}
		return out
	}
	for _, c := range []struct {
		at   string
		want []string
	}{
		{"2026-11-24 10:00", []string{}},
		{"2026-11-25 08:59", []string{}},
		{"2026-11-25 09:00", []string{"remind.acknowledge"}},
		{"2026-11-26 12:00", []string{"remind.acknowledge"}}, // Thanksgiving: still due, sent once (the store keeps count)
		{"2026-11-27 17:00", []string{"remind.acknowledge"}}, // the deadline itself is still on time
		{"2026-11-27 17:01", []string{"overdue.acknowledge"}},
		{"2026-12-31 09:00", []string{"overdue.acknowledge", "remind.reply"}},
		{"2027-01-08 17:01", []string{"overdue.acknowledge", "overdue.reply"}},
		{"2027-02-16 09:00", []string{"overdue.acknowledge", "overdue.reply", "remind.reply_latest"}},
		{"2027-02-23 17:01", []string{"overdue.acknowledge", "overdue.reply", "overdue.reply_latest"}},
	} {
		got := kinds(dueReminders(cal, m, p, wall(t, cal, c.at)))
		if !slices.Equal(got, c.want) {
			t.Errorf("at %s: %v, want %v", c.at, got, c.want)
		}
	}

	t.Run("an acknowledged memo owes only its reply", func(t *testing.T) {
		ack := *m
		ack.State, ack.AcknowledgedAt = string(channel.Acknowledged), micros(wall(t, cal, "2026-11-30 10:00"))
		got := kinds(dueReminders(cal, &ack, p, wall(t, cal, "2026-12-31 09:00")))
		if !slices.Equal(got, []string{"remind.reply"}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("a closed, returned or withdrawn memo owes nothing", func(t *testing.T) {
		for _, st := range []channel.State{channel.Replied, channel.Closed, channel.Returned, channel.Withdrawn} {
			done := *m
			done.State = string(st)
			if got := dueReminders(cal, &done, p, wall(t, cal, "2027-03-01 09:00")); len(got) != 0 {
				t.Errorf("%s: %v", st, kinds(got))
			}
		}
	})
	t.Run("a negative lead sends no reminder but still escalates", func(t *testing.T) {
		q := p
		q.AcknowledgeLead = -1
		if got := kinds(dueReminders(cal, m, q, wall(t, cal, "2026-11-25 09:00"))); len(got) != 0 {
			t.Errorf("got %v", got)
		}
		if got := kinds(dueReminders(cal, m, q, wall(t, cal, "2026-11-27 18:00"))); !slices.Equal(got, []string{"overdue.acknowledge"}) {
			t.Errorf("got %v", got)
		}
	})
	t.Run("a reminder that would come before the memo arrived is not sent", func(t *testing.T) {
		q := p
		q.AcknowledgeLead = 10
		if got := kinds(dueReminders(cal, m, q, wall(t, cal, "2026-11-24 11:00"))); len(got) != 0 {
			t.Errorf("got %v", got)
		}
	})
	t.Run("the queue may stop at the first memo whose earliest reminder is later", func(t *testing.T) {
		if got, want := earliestReminder(cal, d.AcknowledgeBy, p), wall(t, cal, "2026-11-19 09:00"); !got.Equal(want) {
			t.Errorf("earliest = %s, want %s", got, want)
		}
	})
}
