// Package workdays is the working-day calendar on which Dissent counts
// deadlines: weekends, public holidays with their observed-day rules
// (US federal, or an EU member state's), and organisation closures, in the
// channel office's time zone and office hours.
//
// It is pure computation. It must never do I/O, read the clock or keep
// global state: the caller passes the time zone and the instants, and all
// state lives in a Calendar, which is safe for concurrent use.
package workdays

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rickar/cal/v2"
)

// ErrInvalidConfig is wrapped by every error New returns.
var ErrInvalidConfig = errors.New("workdays: invalid config")

// Default office hours, used when Config leaves them zero.
const (
	DefaultDayStart = 9 * time.Hour
	DefaultDayEnd   = 17 * time.Hour
)

// maxClosureDays bounds a run of closed days, so that the next working day
// is always near and no computation can be made to run for ever.
const maxClosureDays = 366

// maxCachedYears bounds the per-year cache; deadlines touch a few years.
const maxCachedYears = 256

// Config describes a calendar.
type Config struct {
	Location *time.Location // the office's time zone; nil means UTC
	Holidays string         // "us-federal", "none", or an EU country code in lower case ("de", "fr", ...): see HolidaySets
	Closures []Closure      // organisation closures, whole local days, inclusive
	DayStart time.Duration  // office hours start, wall-clock time after local midnight; zero means 9h
	DayEnd   time.Duration  // office hours end, wall-clock time after local midnight; zero means 17h
}

// Closure is a run of days on which the organisation is closed, such as a
// shutdown or a snow day; From and To are included.
type Closure struct {
	From, To Date
	Name     string
}

// Holiday is a day on which the office is closed.
type Holiday struct {
	Date     Date
	Name     string
	Observed bool // a substitution rule moved the holiday here from its own day, which fell on a weekend
}

// Calendar answers working-day questions for one office. It is safe for
// concurrent use.
type Calendar struct {
	loc      *time.Location
	start    time.Duration
	end      time.Duration
	rules    []*cal.Holiday
	closures []Closure

	mu    sync.Mutex
	years map[int]*yearDays // built lazily, immutable once built
}

// yearDays is the calendar of one year, precomputed so that a deadline is a
// walk over an array.
type yearDays struct {
	num      int
	first    int       // day number of 1 January
	work     []bool    // work[i] reports whether day first+i is a working day
	holidays []Holiday // in date order
}

// New returns the calendar cfg describes, or an error wrapping ErrInvalidConfig.
func New(cfg Config) (*Calendar, error) {
	sets := holidaySets()
	rules, ok := sets[cfg.Holidays]
	if !ok {
		if _, lower := sets[strings.ToLower(cfg.Holidays)]; lower {
			return nil, fmt.Errorf("%w: unknown holiday set %q (codes are lower case)", ErrInvalidConfig, cfg.Holidays)
		}
		return nil, fmt.Errorf("%w: unknown holiday set %q", ErrInvalidConfig, cfg.Holidays)
	}
	c := &Calendar{
		loc:   cfg.Location,
		start: cfg.DayStart,
		end:   cfg.DayEnd,
		rules: publicHolidays(rules),
		years: make(map[int]*yearDays),
	}
	if c.loc == nil {
		c.loc = time.UTC
	}
	if c.start == 0 {
		c.start = DefaultDayStart
	}
	if c.end == 0 {
		c.end = DefaultDayEnd
	}
	// Office hours end before midnight so that a deadline falls on the
	// working day it is counted on.
	if c.start < 0 || c.end >= 24*time.Hour || c.end <= c.start {
		return nil, fmt.Errorf("%w: office hours %v to %v: want 0 <= start < end < 24h", ErrInvalidConfig, c.start, c.end)
	}
	closures, err := checkClosures(cfg.Closures)
	if err != nil {
		return nil, err
	}
	c.closures = closures
	return c, nil
}

// checkClosures validates closures and returns a sorted copy.
func checkClosures(in []Closure) ([]Closure, error) {
	closures := slices.Clone(in)
	for _, cl := range closures {
		switch {
		case cl.Name == "":
			return nil, fmt.Errorf("%w: closure from %v has no name", ErrInvalidConfig, cl.From)
		case !cl.From.valid():
			return nil, fmt.Errorf("%w: closure %q: from %v: no such day", ErrInvalidConfig, cl.Name, cl.From)
		case !cl.To.valid():
			return nil, fmt.Errorf("%w: closure %q: to %v: no such day", ErrInvalidConfig, cl.Name, cl.To)
		case cl.To.Compare(cl.From) < 0:
			return nil, fmt.Errorf("%w: closure %q: to %v is before from %v", ErrInvalidConfig, cl.Name, cl.To, cl.From)
		}
	}
	slices.SortStableFunc(closures, func(a, b Closure) int { return a.From.Compare(b.From) })
	// Overlapping or adjacent closures make one run of closed days.
	for i := 0; i < len(closures); {
		first, last := dayNumber(closures[i].From), dayNumber(closures[i].To)
		j := i + 1
		for ; j < len(closures) && dayNumber(closures[j].From) <= last+1; j++ {
			last = max(last, dayNumber(closures[j].To))
		}
		if last-first+1 > maxClosureDays {
			return nil, fmt.Errorf("%w: closure %q: closed %d days in a row from %v, at most %d", ErrInvalidConfig, closures[i].Name, last-first+1, closures[i].From, maxClosureDays)
		}
		i = j
	}
	return closures, nil
}

// Location returns the office's time zone, in which every result is given.
func (c *Calendar) Location() *time.Location { return c.loc }

// OfficeHours returns when office hours start and end, as wall-clock times
// after local midnight, with the defaults applied.
func (c *Calendar) OfficeHours() (start, end time.Duration) { return c.start, c.end }

// IsWorkday reports whether d is a working day: not a Saturday or Sunday,
// not a holiday on the day it is kept, not in a closure. An invalid d is
// normalised as time.Date does (2026-02-30 is 2026-03-02).
func (c *Calendar) IsWorkday(d Date) bool {
	n := dayNumber(d)
	y := c.year(dateOf(n).Year)
	return y.work[n-y.first]
}

// Holidays returns the days of the year on which the office is closed besides
// weekends, in date order: each holiday once, on the day it is kept (marked
// Observed when the rules moved it, which can take it into the neighbouring
// year: New Year's Day 2022 was kept on Friday 31 December 2021), and each
// day of each closure, named by the closure; on a day that is both, the
// holiday comes first. A holiday on a weekend that no rule moves is listed
// on its day.
func (c *Calendar) Holidays(year int) []Holiday {
	return slices.Clone(c.year(year).holidays)
}

// Received returns when a memo submitted at t counts as received: t itself
// if t is within office hours of a working day, start and end included,
// otherwise the start of office hours of the next working day.
func (c *Calendar) Received(t time.Time) time.Time {
	t = t.In(c.loc)
	d := DateOf(t)
	if c.IsWorkday(d) {
		if start := c.at(d, c.start); t.Before(start) {
			return start
		}
		if !t.After(c.at(d, c.end)) {
			return t
		}
	}
	return c.at(c.after(d, 1), c.start)
}

// AddWorkdays returns the deadline n working days after a memo submitted at
// t: the end of office hours of the n-th working day after the day it
// counts as received (see Received). Received Monday 10:00, n=2: Wednesday
// at the end of office hours; submitted Monday after hours, n=2: Thursday.
// An n below 1 gives the end of office hours of the day of receipt.
func (c *Calendar) AddWorkdays(t time.Time, n int) time.Time {
	d := DateOf(c.Received(t))
	if n > 0 {
		d = c.after(d, n)
	}
	return c.at(d, c.end)
}

// AddDays adds n calendar days to t on the office's wall clock: across a DST
// change the time of day stays and the elapsed time is 23 or 25 hours.
// A wall-clock time that the change skips or repeats is resolved as time.Date does.
func (c *Calendar) AddDays(t time.Time, n int) time.Time {
	return t.In(c.loc).AddDate(0, 0, n)
}

// AddMonths adds n calendar months to t on the office's wall clock, keeping
// the day of the month unless the target month is shorter, in which case the
// result is its last day: 31 January plus one month is 28 or 29 February.
func (c *Calendar) AddMonths(t time.Time, n int) time.Time {
	t = t.In(c.loc)
	yr, mon, day := t.Date()
	hour, minute, sec := t.Clock()
	target := time.Date(yr, mon+time.Month(n), 1, 0, 0, 0, 0, time.UTC)
	day = min(day, daysIn(target.Year(), target.Month()))
	return time.Date(target.Year(), target.Month(), day, hour, minute, sec, t.Nanosecond(), c.loc)
}

// WorkdaysBetween counts the working days after a's day up to and including
// b's day, both days taken in the office's zone; it is 0 unless b's day is
// after a's. A reply at b to a memo received at a is within n working days
// when the count is at most n.
func (c *Calendar) WorkdaysBetween(a, b time.Time) int {
	from := dayNumber(DateOf(a.In(c.loc))) + 1
	to := dayNumber(DateOf(b.In(c.loc)))
	count := 0
	for n := from; n <= to; {
		y := c.year(dateOf(n).Year)
		last := min(to, y.first+len(y.work)-1)
		for ; n <= last; n++ {
			if y.work[n-y.first] {
				count++
			}
		}
	}
	return count
}

// after returns the n-th working day after d, for n >= 1.
func (c *Calendar) after(d Date, n int) Date {
	day := dayNumber(d)
	y := c.year(d.Year)
	for n > 0 {
		day++
		if day-y.first >= len(y.work) {
			y = c.year(y.num + 1)
		}
		if y.work[day-y.first] {
			n--
		}
	}
	return dateOf(day)
}

// at returns the instant at wall-clock time of day off on d in the office's
// zone. Building it with time.Date, rather than adding a duration to
// midnight, keeps 17:00 at 17:00 on the days the clocks change.
func (c *Calendar) at(d Date, off time.Duration) time.Time {
	return time.Date(d.Year, d.Month, d.Day,
		int(off/time.Hour), int(off%time.Hour/time.Minute), int(off%time.Minute/time.Second),
		int(off%time.Second), c.loc)
}

// year returns the calendar of year num, building it on first use.
func (c *Calendar) year(num int) *yearDays {
	c.mu.Lock()
	defer c.mu.Unlock()
	if y, ok := c.years[num]; ok {
		return y
	}
	if len(c.years) >= maxCachedYears {
		clear(c.years)
	}
	y := c.buildYear(num)
	c.years[num] = y
	return y
}

func (c *Calendar) buildYear(num int) *yearDays {
	first := dayNumber(Date{num, time.January, 1})
	y := &yearDays{
		num:   num,
		first: first,
		work:  make([]bool, dayNumber(Date{num + 1, time.January, 1})-first),
	}
	for i := range y.work {
		wd := weekday(first + i)
		y.work[i] = wd != time.Saturday && wd != time.Sunday
	}
	// Holidays go in before closures, so that the stable sort below lists a
	// holiday before a closure on the same day. A holiday of the year before
	// or after may be kept in this one.
	for _, h := range c.rules {
		for _, from := range []int{num - 1, num, num + 1} {
			actual, observed := h.Calc(from)
			if observed.IsZero() {
				continue
			}
			// cal returns midnight in cal.DefaultLoc (time.Local, which this
			// package never changes); only the date is used, so the zone
			// does not matter.
			day := DateOf(observed)
			if day.Year != num {
				continue
			}
			y.holidays = append(y.holidays, Holiday{Date: day, Name: h.Name, Observed: day != DateOf(actual)})
			y.work[dayNumber(day)-first] = false
		}
	}
	last := first + len(y.work) - 1
	for _, cl := range c.closures {
		for n := max(first, dayNumber(cl.From)); n <= min(last, dayNumber(cl.To)); n++ {
			y.holidays = append(y.holidays, Holiday{Date: dateOf(n), Name: cl.Name})
			y.work[n-first] = false
		}
	}
	slices.SortStableFunc(y.holidays, func(a, b Holiday) int { return a.Date.Compare(b.Date) })
	return y
}
