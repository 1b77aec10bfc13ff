package workdays

import (
	"errors"
	"fmt"
	"time"
)

// ErrInvalidDate is wrapped by every error that reports a malformed date.
var ErrInvalidDate = errors.New("workdays: invalid date")

// Date is a civil date: a day on the calendar, with no time of day and no zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// ParseDate parses a date written as YYYY-MM-DD, such as "2026-12-24".
// It accepts exactly that form and only days that exist.
func ParseDate(s string) (Date, error) {
	if len(s) != len("2006-01-02") || s[4] != '-' || s[7] != '-' {
		return Date{}, fmt.Errorf("%w %q: want YYYY-MM-DD", ErrInvalidDate, s)
	}
	year, ok1 := digits(s[0:4])
	month, ok2 := digits(s[5:7])
	day, ok3 := digits(s[8:10])
	if !ok1 || !ok2 || !ok3 {
		return Date{}, fmt.Errorf("%w %q: want YYYY-MM-DD", ErrInvalidDate, s)
	}
	d := Date{Year: year, Month: time.Month(month), Day: day}
	if !d.valid() {
		return Date{}, fmt.Errorf("%w %q: no such day", ErrInvalidDate, s)
	}
	return d, nil
}

// digits decodes a string of ASCII decimal digits; time.Parse is not used
// because it accepts a sign in the year, which would not survive String.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// DateOf returns the date of t in t's own location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{Year: y, Month: m, Day: d}
}

// String formats d as YYYY-MM-DD.
func (d Date) String() string {
	return fmt.Sprintf("%04d-%02d-%02d", d.Year, d.Month, d.Day)
}

// MarshalText implements encoding.TextMarshaler, so that dates in
// configuration files and JSON read as YYYY-MM-DD.
func (d Date) MarshalText() ([]byte, error) {
	return []byte(d.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler with ParseDate.
func (d *Date) UnmarshalText(b []byte) error {
	p, err := ParseDate(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// Compare returns -1 if d is before e, 0 if they are the same day, +1 if d is after e.
func (d Date) Compare(e Date) int {
	switch {
	case d.Year != e.Year:
		return cmpInt(d.Year, e.Year)
	case d.Month != e.Month:
		return cmpInt(int(d.Month), int(e.Month))
	default:
		return cmpInt(d.Day, e.Day)
	}
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Weekday returns the day of the week of d.
func (d Date) Weekday() time.Weekday {
	return weekday(dayNumber(d))
}

// valid reports whether d names a day that exists.
func (d Date) valid() bool {
	return d.Month >= time.January && d.Month <= time.December &&
		d.Day >= 1 && d.Day <= daysIn(d.Year, d.Month)
}

func daysIn(year int, month time.Month) int {
	return time.Date(year, month+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

// dayNumber counts days from 1970-01-01 (day 0) to d. Working on day numbers
// rather than time.Time keeps the calendar arithmetic free of zones and DST;
// wall-clock times are only built at the end, with time.Date in the office zone.
// An invalid d is normalised as time.Date does.
func dayNumber(d Date) int {
	return int(time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / secondsPerDay)
}

// dateOf is the inverse of dayNumber.
func dateOf(n int) Date {
	return DateOf(time.Unix(int64(n)*secondsPerDay, 0).UTC())
}

// weekday returns the day of the week of day number n; day 0 was a Thursday.
func weekday(n int) time.Weekday {
	return time.Weekday(((n % 7) + 7 + int(time.Thursday)) % 7)
}

const secondsPerDay = 24 * 60 * 60
