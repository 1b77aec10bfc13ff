package workdays_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the tests must not depend on the machine's zoneinfo

	"github.com/dissent-channel/dissent/internal/workdays"
)

func TestNewRejectsInvalidConfig(t *testing.T) {
	day := func(s string) workdays.Date { return mustDate(t, s) }
	tests := []struct {
		name string
		cfg  workdays.Config
		want string // in the error message
	}{
		{"unknown holiday set", workdays.Config{Holidays: "xx"}, `unknown holiday set "xx"`},
		{"empty holiday set", workdays.Config{}, `unknown holiday set ""`},
		{"upper-case country code", workdays.Config{Holidays: "DE"}, `unknown holiday set "DE" (codes are lower case)`},
		{"bare us is not a set", workdays.Config{Holidays: "us"}, `unknown holiday set "us"`},
		{"non-EU country", workdays.Config{Holidays: "gb"}, `unknown holiday set "gb"`},
		{"closure ending before it starts", workdays.Config{Holidays: "none", Closures: []workdays.Closure{
			{From: day("2026-12-24"), To: day("2026-12-23"), Name: "Shutdown"}}},
			`closure "Shutdown": to 2026-12-23 is before from 2026-12-24`},
		{"closure without a name", workdays.Config{Holidays: "none", Closures: []workdays.Closure{
			{From: day("2026-02-10"), To: day("2026-02-10")}}},
			"closure from 2026-02-10 has no name"},
		{"closure on a day that does not exist", workdays.Config{Holidays: "none", Closures: []workdays.Closure{
			{From: workdays.Date{Year: 2026, Month: time.February, Day: 30}, To: day("2026-03-02"), Name: "Snow"}}},
			`closure "Snow": from 2026-02-30: no such day`},
		{"zero closure date", workdays.Config{Holidays: "none", Closures: []workdays.Closure{
			{To: day("2026-03-02"), Name: "Snow"}}},
			`closure "Snow": from 0000-00-00: no such day`},
		{"closures adding up to more than a year in a row", workdays.Config{Holidays: "none", Closures: []workdays.Closure{
			{From: day("2027-01-01"), To: day("2027-01-05"), Name: "Extension"},
			{From: day("2026-01-01"), To: day("2026-12-31"), Name: "Long shutdown"}}},
			`closure "Long shutdown": closed 370 days in a row from 2026-01-01, at most 366`},
		{"office closing before it opens", workdays.Config{Holidays: "none", DayStart: 17 * time.Hour, DayEnd: 9 * time.Hour},
			"office hours 17h0m0s to 9h0m0s"},
		{"office closing when it opens", workdays.Config{Holidays: "none", DayStart: 10 * time.Hour, DayEnd: 10 * time.Hour},
			"office hours 10h0m0s to 10h0m0s"},
		{"office closing before the default opening", workdays.Config{Holidays: "none", DayEnd: 8 * time.Hour},
			"office hours 9h0m0s to 8h0m0s"},
		{"office closing at midnight", workdays.Config{Holidays: "none", DayEnd: 24 * time.Hour},
			"office hours 9h0m0s to 24h0m0s"},
		{"office opening before midnight", workdays.Config{Holidays: "none", DayStart: -time.Hour},
			"office hours -1h0m0s to 17h0m0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := workdays.New(tt.cfg)
			if err == nil {
				t.Fatalf("New() = %v, want an error", c)
			}
			if !errors.Is(err, workdays.ErrInvalidConfig) {
				t.Errorf("error %q does not wrap ErrInvalidConfig", err)
			}
			if msg := err.Error(); !strings.HasPrefix(msg, "workdays: invalid config: ") || !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want it to contain %q", msg, tt.want)
			}
		})
	}
}

func TestNewAcceptsValidConfig(t *testing.T) {
	day := func(s string) workdays.Date { return mustDate(t, s) }
	tests := []struct {
		name string
		cfg  workdays.Config
	}{
		{"defaults with UTC", workdays.Config{Holidays: "none"}},
		{"office open until just before midnight", workdays.Config{Holidays: "none", DayEnd: 24*time.Hour - time.Nanosecond}},
		{"closure of exactly 366 days", workdays.Config{Holidays: "none", Closures: []workdays.Closure{
			{From: day("2028-01-01"), To: day("2028-12-31"), Name: "Leap year off"}}}},
		{"overlapping closures", workdays.Config{Holidays: "us-federal", Closures: []workdays.Closure{
			{From: day("2026-12-24"), To: day("2026-12-31"), Name: "Shutdown"},
			{From: day("2026-12-28"), To: day("2027-01-04"), Name: "Extension"}}}},
	}
	for _, set := range workdays.HolidaySets() {
		tests = append(tests, struct {
			name string
			cfg  workdays.Config
		}{"holiday set " + set, workdays.Config{Holidays: set}})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := workdays.New(tt.cfg)
			if err != nil {
				t.Fatalf("New() error = %v", err)
			}
			if c.Location() != time.UTC {
				t.Errorf("Location() = %v, want UTC for a nil location", c.Location())
			}
			if len(c.Holidays(2026)) == 0 && tt.cfg.Holidays != "none" {
				t.Errorf("Holidays(2026) is empty")
			}
		})
	}
}

func TestOfficeHoursDefaultToNineToFive(t *testing.T) {
	tests := []struct {
		name               string
		start, end         time.Duration
		wantStart, wantEnd time.Duration
	}{
		{"both unset", 0, 0, 9 * time.Hour, 17 * time.Hour},
		{"start unset", 0, 16 * time.Hour, 9 * time.Hour, 16 * time.Hour},
		{"end unset", 8 * time.Hour, 0, 8 * time.Hour, 17 * time.Hour},
		{"both set", 7 * time.Hour, 15*time.Hour + 30*time.Minute, 7 * time.Hour, 15*time.Hour + 30*time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, workdays.Config{Holidays: "none", DayStart: tt.start, DayEnd: tt.end})
			if start, end := c.OfficeHours(); start != tt.wantStart || end != tt.wantEnd {
				t.Errorf("OfficeHours() = %v, %v; want %v, %v", start, end, tt.wantStart, tt.wantEnd)
			}
		})
	}
}

func TestHolidaySetsIncludeTheProfiles(t *testing.T) {
	sets := workdays.HolidaySets()
	for _, want := range []string{"us-federal", "none", "at", "be", "de", "es", "fr", "ie", "it", "nl", "se"} {
		if !slices.Contains(sets, want) {
			t.Errorf("HolidaySets() = %v, missing %q", sets, want)
		}
	}
	if !slices.IsSorted(sets) {
		t.Errorf("HolidaySets() = %v, not sorted", sets)
	}
}

// The 2026 federal holidays, checked against OPM's published list.
func TestHolidaysUSFederal2026(t *testing.T) {
	c := mustNew(t, workdays.Config{Holidays: "us-federal"})
	want := []workdays.Holiday{
		{Date: mustDate(t, "2026-01-01"), Name: "New Year's Day"},
		{Date: mustDate(t, "2026-01-19"), Name: "Martin Luther King Jr. Day"},
		{Date: mustDate(t, "2026-02-16"), Name: "Presidents' Day"},
		{Date: mustDate(t, "2026-05-25"), Name: "Memorial Day"},
		{Date: mustDate(t, "2026-06-19"), Name: "Juneteenth"},
		{Date: mustDate(t, "2026-07-03"), Name: "Independence Day", Observed: true},
		{Date: mustDate(t, "2026-09-07"), Name: "Labor Day"},
		{Date: mustDate(t, "2026-10-12"), Name: "Columbus Day"},
		{Date: mustDate(t, "2026-11-11"), Name: "Veterans Day"},
		{Date: mustDate(t, "2026-11-26"), Name: "Thanksgiving Day"},
		{Date: mustDate(t, "2026-12-25"), Name: "Christmas Day"},
	}
	if got := c.Holidays(2026); !slices.Equal(got, want) {
		t.Errorf("Holidays(2026) =\n%v\nwant\n%v", got, want)
	}
}

func TestHolidaysUSFederalObservedDays(t *testing.T) {
	c := mustNew(t, workdays.Config{Holidays: "us-federal"})
	tests := []struct {
		name     string
		date     string
		holiday  string
		observed bool
	}{
		{"new year 2021 on friday is kept", "2021-01-01", "New Year's Day", false},
		{"juneteenth 2021 on saturday is kept friday", "2021-06-18", "Juneteenth", true},
		{"independence day 2021 on sunday is kept monday", "2021-07-05", "Independence Day", true},
		{"christmas 2021 on saturday is kept friday", "2021-12-24", "Christmas Day", true},
		{"new year 2022 on saturday is kept friday in 2021", "2021-12-31", "New Year's Day", true},
		{"juneteenth 2022 on sunday is kept monday", "2022-06-20", "Juneteenth", true},
		{"christmas 2022 on sunday is kept monday", "2022-12-26", "Christmas Day", true},
		{"new year 2023 on sunday is kept monday", "2023-01-02", "New Year's Day", true},
		{"veterans day 2023 on saturday is kept friday", "2023-11-10", "Veterans Day", true},
		{"thanksgiving 2024 is the fourth thursday", "2024-11-28", "Thanksgiving Day", false},
		{"columbus day 2025 is the second monday", "2025-10-13", "Columbus Day", false},
		{"independence day 2026 on saturday is kept friday", "2026-07-03", "Independence Day", true},
		{"columbus day 2026 is the second monday", "2026-10-12", "Columbus Day", false},
		{"thanksgiving 2026 is the fourth thursday", "2026-11-26", "Thanksgiving Day", false},
		{"juneteenth 2027 on saturday is kept friday", "2027-06-18", "Juneteenth", true},
		{"independence day 2027 on sunday is kept monday", "2027-07-05", "Independence Day", true},
		{"christmas 2027 on saturday is kept friday", "2027-12-24", "Christmas Day", true},
		{"new year 2028 on saturday is kept friday in 2027", "2027-12-31", "New Year's Day", true},
		{"veterans day 2028 on saturday is kept friday", "2028-11-10", "Veterans Day", true},
		{"veterans day 2029 on sunday is kept monday", "2029-11-12", "Veterans Day", true},
		{"thanksgiving 2029 is the fourth thursday", "2029-11-22", "Thanksgiving Day", false},
		{"columbus day 2030 is the second monday", "2030-10-14", "Columbus Day", false},
		{"thanksgiving 2030 is the fourth thursday", "2030-11-28", "Thanksgiving Day", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := mustDate(t, tt.date)
			want := workdays.Holiday{Date: d, Name: tt.holiday, Observed: tt.observed}
			if got := c.Holidays(d.Year); !slices.Contains(got, want) {
				t.Errorf("Holidays(%d) = %v, missing %v", d.Year, got, want)
			}
			if c.IsWorkday(d) {
				t.Errorf("IsWorkday(%v) = true, want false", d)
			}
		})
	}
}

// A year holds 11 federal holidays, less one when its New Year's Day falls
// on a Saturday and is kept the year before, which then holds 12.
func TestHolidaysUSFederalCountPerYear(t *testing.T) {
	c := mustNew(t, workdays.Config{Holidays: "us-federal"})
	want := map[int]int{2021: 12, 2022: 10, 2023: 11, 2024: 11, 2025: 11, 2026: 11, 2027: 12, 2028: 10, 2029: 11, 2030: 11}
	for year := 2021; year <= 2030; year++ {
		if got := len(c.Holidays(year)); got != want[year] {
			t.Errorf("len(Holidays(%d)) = %d, want %d: %v", year, got, want[year], c.Holidays(year))
		}
	}
}

func TestHolidaysReturnsACopy(t *testing.T) {
	c := mustNew(t, workdays.Config{Holidays: "us-federal"})
	c.Holidays(2026)[0].Name = "changed"
	if got := c.Holidays(2026)[0].Name; got != "New Year's Day" {
		t.Errorf("Holidays(2026)[0].Name = %q after the caller changed its copy", got)
	}
}

func TestHolidaysGermany2026(t *testing.T) {
	c := mustNew(t, workdays.Config{Holidays: "de"})
	var got []string
	for _, h := range c.Holidays(2026) {
		got = append(got, h.Date.String())
	}
	// Easter Sunday 2026 is 5 April.
	want := []string{"2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-14", "2026-05-25", "2026-10-03", "2026-12-25", "2026-12-26"}
	if !slices.Equal(got, want) {
		t.Errorf("Holidays(2026) dates = %v, want %v", got, want)
	}
}

func TestHolidaysNetherlandsKingsDayOnSundayIsKeptSaturday(t *testing.T) {
	c := mustNew(t, workdays.Config{Holidays: "nl"})
	want := workdays.Holiday{Date: mustDate(t, "2025-04-26"), Name: "Koningsdag", Observed: true}
	if got := c.Holidays(2025); !slices.Contains(got, want) {
		t.Errorf("Holidays(2025) = %v, missing %v", got, want)
	}
}

func TestIsWorkday(t *testing.T) {
	tests := []struct {
		name string
		set  string
		date string
		want bool
	}{
		{"us monday is a workday", "us-federal", "2026-11-23", true},
		{"us saturday is not", "us-federal", "2026-11-21", false},
		{"us sunday is not", "us-federal", "2026-11-22", false},
		{"us independence day on saturday is not", "us-federal", "2026-07-04", false},
		{"us day after thanksgiving is a workday", "us-federal", "2026-11-27", true},
		{"us juneteenth before 2021 was a workday", "us-federal", "2020-06-19", true},
		{"us inauguration day is a workday outside the capital", "us-federal", "2021-01-20", true},
		{"us monday after a saturday new year is a workday", "us-federal", "2022-01-03", true},
		{"none keeps christmas as a workday", "none", "2026-12-25", true},
		{"none still has weekends", "none", "2026-12-26", false},
		{"de good friday is not", "de", "2026-04-03", false},
		{"de easter monday is not", "de", "2026-04-06", false},
		{"de ascension is not", "de", "2026-05-14", false},
		{"de whit monday is not", "de", "2026-05-25", false},
		{"de unity day on friday is not", "de", "2025-10-03", false},
		{"de tuesday after easter is a workday", "de", "2026-04-07", true},
		{"fr bastille day is not", "fr", "2026-07-14", false},
		{"fr day before bastille day is a workday", "fr", "2026-07-13", true},
		{"fr victory day is not", "fr", "2026-05-08", false},
		{"ie saint patrick's day is not", "ie", "2026-03-17", false},
		{"ie saint brigid's day is not", "ie", "2026-02-02", false},
		{"se midsummer eve is a workday in law", "se", "2026-06-19", true},
		{"se epiphany is not", "se", "2026-01-06", false},
		{"it liberation day is not", "it", "2028-04-25", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustNew(t, workdays.Config{Holidays: tt.set})
			if got := c.IsWorkday(mustDate(t, tt.date)); got != tt.want {
				t.Errorf("IsWorkday(%s) = %v, want %v", tt.date, got, tt.want)
			}
		})
	}
}

func TestIsWorkdayNormalisesInvalidDates(t *testing.T) {
	c := mustNew(t, workdays.Config{Holidays: "us-federal"})
	// 2026-12-32 is 2027-01-01, New Year's Day; 2026-02-30 is Monday 2026-03-02.
	if c.IsWorkday(workdays.Date{Year: 2026, Month: time.December, Day: 32}) {
		t.Error("IsWorkday(2026-12-32) = true, want false (New Year's Day 2027)")
	}
	if !c.IsWorkday(workdays.Date{Year: 2026, Month: time.February, Day: 30}) {
		t.Error("IsWorkday(2026-02-30) = false, want true (Monday 2026-03-02)")
	}
}

func TestReceived(t *testing.T) {
	c, ny := stateDepartment(t)
	tests := []struct {
		name string
		in   time.Time
		want time.Time
	}{
		{"within office hours stays", wall(t, ny, "2026-11-23 10:00"), wall(t, ny, "2026-11-23 10:00")},
		{"exactly at day start stays", wall(t, ny, "2026-11-23 09:00"), wall(t, ny, "2026-11-23 09:00")},
		{"exactly at day end stays", wall(t, ny, "2026-11-23 17:00"), wall(t, ny, "2026-11-23 17:00")},
		{"a nanosecond after day end moves to next morning", wall(t, ny, "2026-11-23 17:00:00.000000001"), wall(t, ny, "2026-11-24 09:00")},
		{"a nanosecond before day start moves to day start", wall(t, ny, "2026-11-23 08:59:59.999999999"), wall(t, ny, "2026-11-23 09:00")},
		{"early morning moves to day start", wall(t, ny, "2026-11-23 07:00"), wall(t, ny, "2026-11-23 09:00")},
		{"evening moves to next morning", wall(t, ny, "2026-11-23 18:30"), wall(t, ny, "2026-11-24 09:00")},
		{"friday evening moves to monday", wall(t, ny, "2026-11-20 18:00"), wall(t, ny, "2026-11-23 09:00")},
		{"saturday moves to monday", wall(t, ny, "2026-11-21 11:00"), wall(t, ny, "2026-11-23 09:00")},
		{"sunday midnight moves to monday", wall(t, ny, "2026-11-22 00:00"), wall(t, ny, "2026-11-23 09:00")},
		{"thanksgiving moves to friday", wall(t, ny, "2026-11-26 10:00"), wall(t, ny, "2026-11-27 09:00")},
		{"observed holiday moves past the weekend", wall(t, ny, "2026-07-03 10:00"), wall(t, ny, "2026-07-06 09:00")},
		{"evening before observed holiday moves past the weekend", wall(t, ny, "2026-07-02 18:00"), wall(t, ny, "2026-07-06 09:00")},
		{"utc evening is judged on the office clock", time.Date(2026, 11, 23, 23, 30, 0, 0, time.UTC), wall(t, ny, "2026-11-24 09:00")},
		{"utc morning in office hours stays", time.Date(2026, 11, 23, 14, 0, 0, 0, time.UTC), wall(t, ny, "2026-11-23 09:00")},
		{"saturday before spring forward moves to monday in daylight time", wall(t, ny, "2026-03-07 12:00"), wall(t, ny, "2026-03-09 09:00")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Received(tt.in)
			if !got.Equal(tt.want) {
				t.Errorf("Received(%v) = %v, want %v", tt.in, got, tt.want)
			}
			if got.Location() != ny {
				t.Errorf("Received(%v) is in %v, want %v", tt.in, got.Location(), ny)
			}
		})
	}
}

func TestAddWorkdays(t *testing.T) {
	c, ny := stateDepartment(t)
	tests := []struct {
		name string
		in   string
		n    int
		want string
	}{
		{"monday morning plus two is wednesday", "2026-11-16 10:00", 2, "2026-11-18 17:00"},
		{"friday afternoon plus two is tuesday", "2026-11-13 16:00", 2, "2026-11-17 17:00"},
		{"monday after hours plus two is thursday", "2026-11-16 18:30", 2, "2026-11-19 17:00"},
		{"saturday plus one is tuesday", "2026-11-14 11:00", 1, "2026-11-17 17:00"},
		{"thanksgiving week skips thursday", "2026-11-23 10:00", 5, "2026-12-01 17:00"},
		{"submitted on thanksgiving counts from friday", "2026-11-26 10:00", 1, "2026-11-30 17:00"},
		{"thirty days skip veterans day and thanksgiving", "2026-11-02 09:30", 30, "2026-12-16 17:00"},
		{"independence day kept friday is skipped", "2026-07-02 10:00", 1, "2026-07-06 17:00"},
		{"independence day kept monday is skipped", "2021-07-02 10:00", 1, "2021-07-06 17:00"},
		{"new year kept in december is skipped", "2021-12-30 10:00", 1, "2022-01-03 17:00"},
		{"juneteenth kept friday is skipped", "2027-06-17 10:00", 1, "2027-06-21 17:00"},
		{"columbus day is skipped", "2026-10-09 10:00", 1, "2026-10-13 17:00"},
		{"christmas kept friday is skipped", "2027-12-23 10:00", 2, "2027-12-28 17:00"},
		{"christmas and new year kept fridays are skipped", "2027-12-23 10:00", 5, "2028-01-03 17:00"},
		{"zero is the end of the day of receipt", "2026-11-21 11:00", 0, "2026-11-23 17:00"},
		{"negative is the end of the day of receipt", "2026-11-23 10:00", -3, "2026-11-23 17:00"},
		{"across spring forward ends at 17:00 daylight time", "2026-03-06 10:00", 2, "2026-03-10 17:00"},
		{"across fall back ends at 17:00 standard time", "2026-10-30 10:00", 2, "2026-11-03 17:00"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, want := wall(t, ny, tt.in), wall(t, ny, tt.want)
			got := c.AddWorkdays(in, tt.n)
			if !got.Equal(want) || got.Location() != ny {
				t.Errorf("AddWorkdays(%v, %d) = %v, want %v", in, tt.n, got, want)
			}
		})
	}
}

// The deadline must be 17:00 on the office's wall clock with the offset in
// force that day, not 17:00 of the offset at submission.
func TestAddWorkdaysAcrossDSTKeepsWallClockAndOffset(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	berlin := mustLoad(t, "Europe/Berlin")
	us := mustNew(t, workdays.Config{Location: ny, Holidays: "us-federal"})
	de := mustNew(t, workdays.Config{Location: berlin, Holidays: "de"})
	tests := []struct {
		name       string
		cal        *workdays.Calendar
		in         time.Time
		n          int
		wantDate   string
		wantOffset time.Duration
	}{
		{"us march switch lands in daylight time", us, wall(t, ny, "2026-03-06 10:00"), 2, "2026-03-10", -4 * time.Hour},
		{"us november switch lands in standard time", us, wall(t, ny, "2026-10-30 10:00"), 2, "2026-11-03", -5 * time.Hour},
		{"us deadline given from a utc instant", us, time.Date(2026, 3, 6, 15, 0, 0, 0, time.UTC), 2, "2026-03-10", -4 * time.Hour},
		{"eu march switch lands in summer time", de, wall(t, berlin, "2026-03-27 10:00"), 1, "2026-03-30", 2 * time.Hour},
		{"eu october switch lands in winter time", de, wall(t, berlin, "2026-10-23 10:00"), 1, "2026-10-26", 1 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.AddWorkdays(tt.in, tt.n)
			if d := workdays.DateOf(got); d.String() != tt.wantDate {
				t.Errorf("date = %v, want %s", d, tt.wantDate)
			}
			if h, m, s := got.Clock(); h != 17 || m != 0 || s != 0 || got.Nanosecond() != 0 {
				t.Errorf("wall clock = %02d:%02d:%02d.%09d, want 17:00", h, m, s, got.Nanosecond())
			}
			if _, off := got.Zone(); time.Duration(off)*time.Second != tt.wantOffset {
				t.Errorf("offset = %v, want %v", time.Duration(off)*time.Second, tt.wantOffset)
			}
		})
	}
}

func TestAddWorkdaysWithCustomOfficeHours(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	c := mustNew(t, workdays.Config{Location: ny, Holidays: "us-federal", DayStart: 8*time.Hour + 30*time.Minute, DayEnd: 16*time.Hour + 45*time.Minute})
	if got, want := c.Received(wall(t, ny, "2026-11-23 16:50")), wall(t, ny, "2026-11-24 08:30"); !got.Equal(want) {
		t.Errorf("Received = %v, want %v", got, want)
	}
	if got, want := c.AddWorkdays(wall(t, ny, "2026-11-23 16:50"), 2), wall(t, ny, "2026-11-27 16:45"); !got.Equal(want) {
		t.Errorf("AddWorkdays = %v, want %v", got, want)
	}
}

func TestAddDays(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	berlin := mustLoad(t, "Europe/Berlin")
	us := mustNew(t, workdays.Config{Location: ny, Holidays: "us-federal"})
	de := mustNew(t, workdays.Config{Location: berlin, Holidays: "de"})
	tests := []struct {
		name    string
		cal     *workdays.Calendar
		in      time.Time
		n       int
		want    time.Time
		elapsed time.Duration
	}{
		{"spring forward keeps the wall clock in 23 hours", us, wall(t, ny, "2026-03-07 12:00"), 1, wall(t, ny, "2026-03-08 12:00"), 23 * time.Hour},
		{"fall back keeps the wall clock in 25 hours", us, wall(t, ny, "2026-10-31 12:00"), 1, wall(t, ny, "2026-11-01 12:00"), 25 * time.Hour},
		{"seven days across the eu switch", de, wall(t, berlin, "2026-03-25 10:00"), 7, wall(t, berlin, "2026-04-01 10:00"), 7*24*time.Hour - time.Hour},
		{"weekends and holidays count", us, wall(t, ny, "2026-12-24 10:00"), 7, wall(t, ny, "2026-12-31 10:00"), 7 * 24 * time.Hour},
		{"negative goes back", us, wall(t, ny, "2026-03-08 12:00"), -1, wall(t, ny, "2026-03-07 12:00"), -23 * time.Hour},
		{"utc input is taken on the office wall clock", us, time.Date(2026, 3, 8, 3, 0, 0, 0, time.UTC), 1, wall(t, ny, "2026-03-08 22:00"), 23 * time.Hour},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.AddDays(tt.in, tt.n)
			if !got.Equal(tt.want) || got.Location() != tt.cal.Location() {
				t.Errorf("AddDays(%v, %d) = %v, want %v", tt.in, tt.n, got, tt.want)
			}
			if e := got.Sub(tt.in); e != tt.elapsed {
				t.Errorf("elapsed %v, want %v", e, tt.elapsed)
			}
		})
	}
}

func TestAddMonths(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	berlin := mustLoad(t, "Europe/Berlin")
	us := mustNew(t, workdays.Config{Location: ny, Holidays: "us-federal"})
	de := mustNew(t, workdays.Config{Location: berlin, Holidays: "de"})
	tests := []struct {
		name string
		cal  *workdays.Calendar
		in   time.Time
		n    int
		want time.Time
	}{
		{"january 31 clamps to february 28", us, wall(t, ny, "2026-01-31 10:00"), 1, wall(t, ny, "2026-02-28 10:00")},
		{"january 31 clamps to february 29 in a leap year", us, wall(t, ny, "2028-01-31 10:00"), 1, wall(t, ny, "2028-02-29 10:00")},
		{"march 31 clamps to april 30", us, wall(t, ny, "2026-03-31 10:00"), 1, wall(t, ny, "2026-04-30 10:00")},
		{"august 31 plus six clamps across the year", us, wall(t, ny, "2026-08-31 10:00"), 6, wall(t, ny, "2027-02-28 10:00")},
		{"leap day plus twelve clamps to february 28", us, wall(t, ny, "2028-02-29 10:00"), 12, wall(t, ny, "2029-02-28 10:00")},
		{"mid-month day is kept across the year", us, wall(t, ny, "2026-12-15 10:00"), 3, wall(t, ny, "2027-03-15 10:00")},
		{"negative clamps too", us, wall(t, ny, "2026-03-31 10:00"), -1, wall(t, ny, "2026-02-28 10:00")},
		{"zero keeps the time", us, wall(t, ny, "2026-03-31 10:00"), 0, wall(t, ny, "2026-03-31 10:00")},
		{"wall clock is kept across fall back", us, wall(t, ny, "2026-10-15 10:00"), 1, wall(t, ny, "2026-11-15 10:00")},
		{"three months for eu feedback clamps", de, wall(t, berlin, "2026-11-30 10:00"), 3, wall(t, berlin, "2027-02-28 10:00")},
		{"nanoseconds are kept", us, wall(t, ny, "2026-01-31 10:00:00.5"), 1, wall(t, ny, "2026-02-28 10:00:00.5")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.cal.AddMonths(tt.in, tt.n)
			if !got.Equal(tt.want) || got.Location() != tt.cal.Location() {
				t.Errorf("AddMonths(%v, %d) = %v, want %v", tt.in, tt.n, got, tt.want)
			}
		})
	}
}

func TestWorkdaysBetween(t *testing.T) {
	c, ny := stateDepartment(t)
	utc := mustNew(t, workdays.Config{Holidays: "us-federal"})
	tests := []struct {
		name string
		cal  *workdays.Calendar
		a, b time.Time
		want int
	}{
		{"same day is zero", c, wall(t, ny, "2026-11-23 10:00"), wall(t, ny, "2026-11-23 16:00"), 0},
		{"b before a is zero", c, wall(t, ny, "2026-11-30 10:00"), wall(t, ny, "2026-11-23 10:00"), 0},
		{"next day is one", c, wall(t, ny, "2026-11-23 16:00"), wall(t, ny, "2026-11-24 09:00"), 1},
		{"friday to monday is one", c, wall(t, ny, "2026-11-20 10:00"), wall(t, ny, "2026-11-23 10:00"), 1},
		{"to a saturday counts up to friday", c, wall(t, ny, "2026-11-16 10:00"), wall(t, ny, "2026-11-21 10:00"), 4},
		{"thanksgiving week has four", c, wall(t, ny, "2026-11-23 10:00"), wall(t, ny, "2026-11-30 10:00"), 4},
		{"thirty working days", c, wall(t, ny, "2026-11-02 09:30"), wall(t, ny, "2026-12-16 17:00"), 30},
		{"across the new year kept in december", c, wall(t, ny, "2021-12-30 10:00"), wall(t, ny, "2022-01-03 10:00"), 1},
		{"2026 has 250 federal working days", c, wall(t, ny, "2025-12-31 12:00"), wall(t, ny, "2026-12-31 12:00"), 250},
		{"ten years add up year by year", c, wall(t, ny, "2020-12-31 12:00"), wall(t, ny, "2030-12-31 12:00"), 2498},
		{"days are taken in the office zone", c, time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), 1},
		{"the same instants in a utc office", utc, time.Date(2026, 11, 23, 4, 0, 0, 0, time.UTC), time.Date(2026, 11, 23, 15, 0, 0, 0, time.UTC), 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cal.WorkdaysBetween(tt.a, tt.b); got != tt.want {
				t.Errorf("WorkdaysBetween(%v, %v) = %d, want %d", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

// WorkdaysBetween over many years must agree with counting day by day.
func TestWorkdaysBetweenAgreesWithIsWorkday(t *testing.T) {
	c, ny := stateDepartment(t)
	a, b := wall(t, ny, "2020-12-31 12:00"), wall(t, ny, "2030-12-31 12:00")
	want := 0
	for d := a.AddDate(0, 0, 1); !d.After(b); d = d.AddDate(0, 0, 1) {
		if c.IsWorkday(workdays.DateOf(d)) {
			want++
		}
	}
	if got := c.WorkdaysBetween(a, b); got != want {
		t.Errorf("WorkdaysBetween = %d, counting day by day gives %d", got, want)
	}
}

func TestClosures(t *testing.T) {
	ny := mustLoad(t, "America/New_York")
	c := mustNew(t, workdays.Config{Location: ny, Holidays: "us-federal", Closures: []workdays.Closure{
		{From: mustDate(t, "2026-12-24"), To: mustDate(t, "2027-01-04"), Name: "Winter shutdown"},
		{From: mustDate(t, "2026-02-10"), To: mustDate(t, "2026-02-10"), Name: "Snow day"},
	}})
	t.Run("snow day is not a workday", func(t *testing.T) {
		if c.IsWorkday(mustDate(t, "2026-02-10")) || !c.IsWorkday(mustDate(t, "2026-02-11")) {
			t.Error("want 2026-02-10 closed and 2026-02-11 open")
		}
	})
	t.Run("submission on a snow day counts from the next day", func(t *testing.T) {
		if got, want := c.Received(wall(t, ny, "2026-02-10 10:00")), wall(t, ny, "2026-02-11 09:00"); !got.Equal(want) {
			t.Errorf("Received = %v, want %v", got, want)
		}
	})
	t.Run("deadline skips the snow day", func(t *testing.T) {
		if got, want := c.AddWorkdays(wall(t, ny, "2026-02-09 10:00"), 1), wall(t, ny, "2026-02-11 17:00"); !got.Equal(want) {
			t.Errorf("AddWorkdays = %v, want %v", got, want)
		}
	})
	t.Run("deadline skips a shutdown across the new year", func(t *testing.T) {
		if got, want := c.AddWorkdays(wall(t, ny, "2026-12-23 10:00"), 2), wall(t, ny, "2027-01-06 17:00"); !got.Equal(want) {
			t.Errorf("AddWorkdays = %v, want %v", got, want)
		}
	})
	t.Run("closure days are listed in date order after the holiday of the same day", func(t *testing.T) {
		got := c.Holidays(2026)
		var tail []string
		for _, h := range got[len(got)-9:] {
			tail = append(tail, h.Date.String()+" "+h.Name)
		}
		want := []string{
			"2026-12-24 Winter shutdown",
			"2026-12-25 Christmas Day",
			"2026-12-25 Winter shutdown",
			"2026-12-26 Winter shutdown",
			"2026-12-27 Winter shutdown",
			"2026-12-28 Winter shutdown",
			"2026-12-29 Winter shutdown",
			"2026-12-30 Winter shutdown",
			"2026-12-31 Winter shutdown",
		}
		if !slices.Equal(tail, want) {
			t.Errorf("end of Holidays(2026) =\n%v\nwant\n%v", tail, want)
		}
		if h := got[2]; h.Date.String() != "2026-02-10" || h.Name != "Snow day" || h.Observed {
			t.Errorf("Holidays(2026)[2] = %v, want the snow day", h)
		}
	})
	t.Run("a closure continues into the next year", func(t *testing.T) {
		var head []string
		for _, h := range c.Holidays(2027)[:6] {
			head = append(head, h.Date.String()+" "+h.Name)
		}
		want := []string{
			"2027-01-01 New Year's Day",
			"2027-01-01 Winter shutdown",
			"2027-01-02 Winter shutdown",
			"2027-01-03 Winter shutdown",
			"2027-01-04 Winter shutdown",
			"2027-01-18 Martin Luther King Jr. Day",
		}
		if !slices.Equal(head, want) {
			t.Errorf("start of Holidays(2027) =\n%v\nwant\n%v", head, want)
		}
	})
}

// Run with -race: one Calendar is shared by every request of a server.
func TestConcurrentUse(t *testing.T) {
	c, ny := stateDepartment(t)
	fresh, _ := stateDepartment(t)
	start := wall(t, ny, "2021-01-04 10:00")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				in := start.AddDate(0, 0, 13*i+g)
				got := c.AddWorkdays(in, 30)
				if n := c.WorkdaysBetween(c.Received(in), got); n != 30 {
					t.Errorf("WorkdaysBetween(Received(%v), %v) = %d, want 30", in, got, n)
				}
				_ = c.Holidays(in.Year())
			}
		})
	}
	wg.Wait()
	for i := range 200 {
		in := start.AddDate(0, 0, 13*i)
		if got, want := c.AddWorkdays(in, 30), fresh.AddWorkdays(in, 30); !got.Equal(want) {
			t.Errorf("AddWorkdays(%v, 30) = %v after concurrent use, %v on a fresh calendar", in, got, want)
		}
	}
}

// stateDepartment returns the calendar of an office in Washington.
func stateDepartment(t testing.TB) (*workdays.Calendar, *time.Location) {
	t.Helper()
	ny := mustLoad(t, "America/New_York")
	return mustNew(t, workdays.Config{Location: ny, Holidays: "us-federal"}), ny
}

func mustNew(t testing.TB, cfg workdays.Config) *workdays.Calendar {
	t.Helper()
	c, err := workdays.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustLoad(t testing.TB, name string) *time.Location {
	t.Helper()
	loc, err := time.LoadLocation(name)
	if err != nil {
		t.Fatal(err)
	}
	return loc
}

// wall parses a local wall-clock time such as "2026-11-23 10:00" in loc;
// seconds and fractions may follow.
func wall(t testing.TB, loc *time.Location, s string) time.Time {
	t.Helper()
	layout := "2006-01-02 15:04"
	if len(s) > len(layout) {
		layout += ":05"
	}
	tm, err := time.ParseInLocation(layout, s, loc)
	if err != nil {
		t.Fatal(err)
	}
	return tm
}
