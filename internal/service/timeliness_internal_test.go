package service

import (
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/workdays"
)

// closedFacts is a closed memo submitted at sub under profile, answered
// at replied (acknowledged by the reply).
func closedFacts(cal *workdays.Calendar, profile string, sub, replied time.Time) store.MemoFacts {
	d := channel.Profiles[profile].Deadlines(cal, sub)
	return store.MemoFacts{State: string(channel.Closed), SubmittedAt: micros(sub), AcknowledgedAt: micros(replied), RepliedAt: micros(replied),
		AcknowledgeBy: micros(d.AcknowledgeBy), ReplyBy: micros(d.ReplyBy), ReplyLatest: micros(d.ReplyLatest), AuthorsCount: 1}
}

// TestLateReplyCountsAsLate: five memos submitted Tuesday 24
// November 2026 under the State profile owe their reply by Friday 8
// January 2027 at 17:00 (the reminders job escalates them as overdue at
// 17:00:00.000001). Replied that evening at 18:00, or on Saturday 9
// January, they are late, and the figures say so (they counted whole
// working days, and published these as "within 30 working days").
func TestLateReplyCountsAsLate(t *testing.T) {
	cal := usFederal(t)
	sub := wall(t, cal, "2026-11-24 10:00")
	var facts []store.MemoFacts
	for _, replied := range []string{"2027-01-08 18:00", "2027-01-08 23:00", "2027-01-09 10:00", "2027-01-10 12:00", "2027-01-08 17:30"} {
		f := closedFacts(cal, "state-2fam070", sub, wall(t, cal, replied))
		if f.RepliedAt <= f.ReplyBy {
			t.Fatalf("test set-up: reply at %s is not after the deadline %s", replied, fromMicros(f.ReplyBy).In(cal.Location()))
		}
		facts = append(facts, f)
	}
	st := computeStats(2026, facts, cal, wall(t, cal, "2027-06-01 12:00"), 5)
	if st.Reply.OnTime.n != 0 || !st.Reply.OnTime.Shown() {
		t.Errorf("5 replies after their deadline: published on time %s, late %s, within latest %s; want on time 0",
			st.Reply.OnTime, st.Reply.Late, st.Reply.WithinLatest)
	}
}

// TestEUOnTimeReplyCountsAsOnTime: under the EU profile the reply
// is due 3 months after receipt. Five replies sent 2 months and 28 days
// after submission are on time (the figures banded replies by the State
// profile's 30 and 60 working days, and published these as late).
func TestEUOnTimeReplyCountsAsOnTime(t *testing.T) {
	cal, err := workdays.New(workdays.Config{Location: time.UTC, Holidays: "none"})
	if err != nil {
		t.Fatal(err)
	}
	var facts []store.MemoFacts
	for i := range 5 {
		sub := time.Date(2026, 1, 5+i, 10, 0, 0, 0, time.UTC)
		f := closedFacts(cal, "eu-2019-1937", sub, sub.AddDate(0, 2, 28))
		if f.RepliedAt > f.ReplyBy {
			t.Fatalf("test set-up: reply after the deadline")
		}
		facts = append(facts, f)
	}
	st := computeStats(2026, facts, cal, time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC), 5)
	if st.Reply.Late.n != 0 || st.Reply.OnTime.n+st.Reply.WithinLatest.n != 5 {
		t.Errorf("5 replies within the EU profile's 3 months: published on time %s, within latest %s, late %s; want none late",
			st.Reply.OnTime, st.Reply.WithinLatest, st.Reply.Late)
	}
}

// TestRemindAtClockChangeOnAWeekday: where the clocks change on a
// working day (Israel springs forward on the Friday before the last
// Sunday of March, Egypt on the last Friday of April, both at or after
// local midnight), the office is still reminded at the start of office
// hours: 9 hours of elapsed time added to midnight made it 10:00.
func TestRemindAtClockChangeOnAWeekday(t *testing.T) {
	for _, c := range []struct{ zone, deadline, want string }{
		{"Asia/Jerusalem", "2026-03-30 17:00", "2026-03-27 09:00"},
		{"Africa/Cairo", "2026-04-27 17:00", "2026-04-24 09:00"},
	} {
		loc, err := time.LoadLocation(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		cal, err := workdays.New(workdays.Config{Location: loc, Holidays: "none"})
		if err != nil {
			t.Fatal(err)
		}
		got := remindAt(cal, wall(t, cal, c.deadline), 1)
		if want := wall(t, cal, c.want); !got.Equal(want) {
			t.Errorf("%s: remindAt(%s, 1) = %s, want %s", c.zone, c.deadline, got.In(loc).Format("2006-01-02 15:04 MST"), c.want)
		}
	}
}
