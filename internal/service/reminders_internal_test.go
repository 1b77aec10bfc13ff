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
}

// TestNextCheckMissesNothing checks nextCheck against dueReminders, hour by
// hour and at every instant that matters, for memos in each state and
// policies with every kind of lead: a job that looked at a memo at one
// moment and not again until nextCheck finds nothing due in between that
// was not due when it looked, and finds something new at nextCheck itself.
func TestNextCheckMissesNothing(t *testing.T) {
	cal := usFederal(t)
	submitted := wall(t, cal, "2026-11-24 10:00")
	d := channel.Profiles["state-2fam070"].Deadlines(cal, submitted)
	base := store.Memo{ID: "m", State: string(channel.Submitted), SubmittedAt: micros(submitted),
		AcknowledgeBy: micros(d.AcknowledgeBy), ReplyBy: micros(d.ReplyBy), ReplyLatest: micros(d.ReplyLatest)}
	acknowledged := base
	acknowledged.State, acknowledged.AcknowledgedAt = string(channel.Acknowledged), micros(wall(t, cal, "2026-12-02 11:00"))
	replied := acknowledged
	replied.State, replied.RepliedAt = string(channel.Replied), micros(wall(t, cal, "2026-12-20 11:00"))

	policies := map[string]ReminderPolicy{"default": DefaultReminders()}
	q := DefaultReminders()
	q.AcknowledgeLead, q.ReplyLead, q.ReplyLatestLead = -1, 0, 10
	policies["no acknowledge reminder, reply on the day, 10 before the latest"] = q
	q = DefaultReminders()
	q.AcknowledgeLead = 10 // before the memo arrives: never sent
	policies["a lead longer than the time to acknowledge"] = q

	set := func(rs []reminder) map[string]bool {
		out := map[string]bool{}
		for _, r := range rs {
			out[r.kind()] = true
		}
		return out
	}
	for pname, p := range policies {
		for mname, m := range map[string]*store.Memo{"submitted": &base, "acknowledged": &acknowledged, "replied": &replied} {
			t.Run(pname+"/"+mname, func(t *testing.T) {
				// Every hour for a hundred days, and the instants around
				// each check the memo asks for.
				var moments []time.Time
				for at := submitted; at.Before(submitted.AddDate(0, 0, 100)); at = at.Add(time.Hour) {
					moments = append(moments, at)
				}
				// A write works the check out from the zero time: that must
				// be the first check after the memo arrived, not a moment
				// before it that finds nothing to do.
				if first, fromArrival := nextCheck(cal, m, p, time.Time{}), nextCheck(cal, m, p, submitted); first != fromArrival {
					t.Errorf("a write's check %d, the first after arrival %d", first, fromArrival)
				}
				checks := 0
				for at := submitted; ; {
					next := nextCheck(cal, m, p, at)
					if next == 0 {
						break
					}
					n := fromMicros(next)
					checks++
					if !n.After(at) {
						t.Fatalf("next check %s is not after %s", n, at)
					}
					moments = append(moments, n.Add(-time.Microsecond), n)
					// Something new is due at the check itself.
					now, then := set(dueReminders(cal, m, p, at)), set(dueReminders(cal, m, p, n))
					fresh := false
					for k := range then {
						fresh = fresh || !now[k]
					}
					if !fresh {
						t.Errorf("a check at %s finds nothing new: %v, as at %s", n.In(cal.Location()), then, at.In(cal.Location()))
					}
					at = n
				}
				if mname == "replied" && checks != 0 {
					t.Errorf("a replied memo has %d checks", checks)
				}
				slices.SortFunc(moments, time.Time.Compare)
				for i := 1; i < len(moments); i++ {
					looked, at := moments[i-1], moments[i]
					next := nextCheck(cal, m, p, looked)
					if next != 0 && !at.Before(fromMicros(next)) {
						continue // the job looks again by then
					}
					before := set(dueReminders(cal, m, p, looked))
					for k := range set(dueReminders(cal, m, p, at)) {
						if !before[k] {
							t.Fatalf("looked at %s, next check %d, but %s is due at %s", looked.In(cal.Location()), next, k, at.In(cal.Location()))
						}
					}
				}
			})
		}
	}
}

// TestScheduleOf: the fingerprint that decides whether every open memo's
// next check is worked out again moves with what nextCheck depends on —
// the leads, a closure, the office's opening hour or time zone, the year —
// and with nothing else.
func TestScheduleOf(t *testing.T) {
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	calendar := func(cfg workdays.Config) *workdays.Calendar {
		t.Helper()
		if cfg.Location == nil {
			cfg.Location = ny
		}
		if cfg.Holidays == "" {
			cfg.Holidays = "us-federal"
		}
		c, err := workdays.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	snow, err := workdays.ParseDate("2026-12-15")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 12, 3, 12, 0, 0, 0, ny)
	p := DefaultReminders()
	base := scheduleOf(calendar(workdays.Config{}), p, now)

	same := p
	same.EscalateTo, same.StaleDraft, same.Email = []string{"director"}, time.Hour, true
	if got := scheduleOf(calendar(workdays.Config{}), same, now); string(got) != string(base) {
		t.Error("escalation contacts, stale drafts or e-mail changed the schedule")
	}
	if got := scheduleOf(calendar(workdays.Config{}), p, now.AddDate(0, 0, 20)); string(got) != string(base) {
		t.Error("a later day of the same year changed the schedule")
	}
	longer := p
	longer.ReplyLead++
	for name, got := range map[string][]byte{
		"a longer reply lead": scheduleOf(calendar(workdays.Config{}), longer, now),
		"a snow day":          scheduleOf(calendar(workdays.Config{Closures: []workdays.Closure{{From: snow, To: snow, Name: "snow"}}}), p, now),
		"opening at 08:00":    scheduleOf(calendar(workdays.Config{DayStart: 8 * time.Hour}), p, now),
		"another time zone":   scheduleOf(calendar(workdays.Config{Location: time.UTC}), p, now),
		"another holiday set": scheduleOf(calendar(workdays.Config{Holidays: "de"}), p, now),
		"the new year":        scheduleOf(calendar(workdays.Config{}), p, time.Date(2027, 1, 1, 12, 0, 0, 0, ny)),
	} {
		if string(got) == string(base) {
			t.Errorf("%s left the schedule as it was", name)
		}
	}
}
