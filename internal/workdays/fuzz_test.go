package workdays_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/workdays"
)

// fuzzCalendars are offices in zones with different DST rules, including a
// half-hour shift (Lord Howe) and none at all (Kolkata).
func fuzzCalendars(f *testing.F) []*workdays.Calendar {
	snow := workdays.Closure{From: mustDate(f, "2026-02-10"), To: mustDate(f, "2026-02-10"), Name: "Snow day"}
	shutdown := workdays.Closure{From: mustDate(f, "2026-12-24"), To: mustDate(f, "2027-01-04"), Name: "Winter shutdown"}
	return []*workdays.Calendar{
		mustNew(f, workdays.Config{Location: mustLoad(f, "America/New_York"), Holidays: "us-federal", Closures: []workdays.Closure{snow, shutdown}}),
		mustNew(f, workdays.Config{Location: mustLoad(f, "Europe/Berlin"), Holidays: "de"}),
		mustNew(f, workdays.Config{Location: mustLoad(f, "Europe/Dublin"), Holidays: "ie"}),
		mustNew(f, workdays.Config{Location: mustLoad(f, "Australia/Lord_Howe"), Holidays: "none", DayStart: 8*time.Hour + 30*time.Minute, DayEnd: 16*time.Hour + 45*time.Minute}),
		mustNew(f, workdays.Config{Location: mustLoad(f, "Asia/Kolkata"), Holidays: "none", DayEnd: 24*time.Hour - time.Nanosecond}),
	}
}

func FuzzAddWorkdays(f *testing.F) {
	cals := fuzzCalendars(f)
	ny := cals[0].Location()
	for _, s := range []string{"2026-11-16 10:00", "2026-11-13 16:00", "2026-11-16 18:30", "2026-03-06 10:00", "2026-10-30 10:00", "2021-12-30 10:00", "2026-12-23 10:00"} {
		f.Add(wall(f, ny, s).Unix(), uint8(1), uint8(0))
	}
	f.Add(int64(0), uint8(89), uint8(3))
	f.Add(int64(-1), uint8(59), uint8(4))

	// Instants from 1970 to 2200: the years a memo can be filed or answered in.
	lo := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	span := time.Date(2200, 1, 1, 0, 0, 0, 0, time.UTC).Unix() - lo
	f.Fuzz(func(t *testing.T, sec int64, n8, which uint8) {
		c := cals[int(which)%len(cals)]
		n := int(n8)%90 + 1
		in := time.Unix(lo+((sec%span)+span)%span, int64(n8)*1e6)

		r := c.Received(in)
		if r.Before(in) || r.Location() != c.Location() {
			t.Fatalf("Received(%v) = %v, before the input or not in the office zone", in, r)
		}
		if !c.IsWorkday(workdays.DateOf(r)) {
			t.Fatalf("Received(%v) = %v, not a working day", in, r)
		}
		if again := c.Received(r); !again.Equal(r) {
			t.Fatalf("Received(Received(%v)) = %v, want %v", in, again, r)
		}

		got := c.AddWorkdays(in, n)
		if !got.After(in) || got.Location() != c.Location() {
			t.Fatalf("AddWorkdays(%v, %d) = %v, not after the input or not in the office zone", in, n, got)
		}
		if !c.IsWorkday(workdays.DateOf(got)) {
			t.Fatalf("AddWorkdays(%v, %d) = %v, not a working day", in, n, got)
		}
		if _, end := c.OfficeHours(); sinceMidnight(got) != end {
			t.Fatalf("AddWorkdays(%v, %d) = %v, not at the end of office hours", in, n, got)
		}
		if between := c.WorkdaysBetween(r, got); between != n {
			t.Fatalf("WorkdaysBetween(%v, %v) = %d, want %d", r, got, between, n)
		}
		if fromReceipt := c.AddWorkdays(r, n); !fromReceipt.Equal(got) {
			t.Fatalf("AddWorkdays(Received(%v), %d) = %v, want %v", in, n, fromReceipt, got)
		}
	})
}

// sinceMidnight returns the wall-clock time of day of t.
func sinceMidnight(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second + time.Duration(t.Nanosecond())
}

func BenchmarkAddWorkdays(b *testing.B) {
	c, ny := stateDepartment(b)
	in := wall(b, ny, "2026-11-23 18:30")
	for _, n := range []int{2, 30, 60} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			c.AddWorkdays(in, n) // build the years once, as a server does on first use
			for b.Loop() {
				c.AddWorkdays(in, n)
			}
		})
	}
	b.Run("n=60/parallel", func(b *testing.B) {
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				c.AddWorkdays(in, 60)
			}
		})
	})
}
