package workdays_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/workdays"
)

func TestParseDate(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want workdays.Date
		ok   bool
	}{
		{"accepts an ordinary day", "2026-12-24", workdays.Date{Year: 2026, Month: time.December, Day: 24}, true},
		{"accepts a leap day", "2028-02-29", workdays.Date{Year: 2028, Month: time.February, Day: 29}, true},
		{"accepts the last four-digit year", "9999-12-31", workdays.Date{Year: 9999, Month: time.December, Day: 31}, true},
		{"rejects a leap day in a common year", "2026-02-29", workdays.Date{}, false},
		{"rejects month thirteen", "2026-13-01", workdays.Date{}, false},
		{"rejects day zero", "2026-01-00", workdays.Date{}, false},
		{"rejects unpadded fields", "2026-1-1", workdays.Date{}, false},
		{"rejects a signed year", "+026-01-01", workdays.Date{}, false},
		{"rejects a negative year", "-001-01-01", workdays.Date{}, false},
		{"rejects trailing text", "2026-12-24T00:00", workdays.Date{}, false},
		{"rejects slashes", "2026/12/24", workdays.Date{}, false},
		{"rejects the empty string", "", workdays.Date{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := workdays.ParseDate(tt.in)
			if !tt.ok {
				if err == nil {
					t.Fatalf("ParseDate(%q) = %v, want an error", tt.in, got)
				}
				if !errors.Is(err, workdays.ErrInvalidDate) || !strings.HasPrefix(err.Error(), "workdays: ") || !strings.Contains(err.Error(), `"`+tt.in+`"`) {
					t.Errorf("ParseDate(%q) error = %q, want ErrInvalidDate quoting the input", tt.in, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("ParseDate(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
			}
			if got.String() != tt.in {
				t.Errorf("String() = %q, want %q", got.String(), tt.in)
			}
		})
	}
}

func TestDateCompareAndWeekday(t *testing.T) {
	a, b := mustDate(t, "2026-11-23"), mustDate(t, "2026-11-26")
	if a.Compare(b) != -1 || b.Compare(a) != 1 || a.Compare(a) != 0 {
		t.Errorf("Compare is not an order: %d %d %d", a.Compare(b), b.Compare(a), a.Compare(a))
	}
	if y := mustDate(t, "2025-12-31"); y.Compare(a) != -1 {
		t.Errorf("%v.Compare(%v) = %d, want -1", y, a, y.Compare(a))
	}
	if a.Weekday() != time.Monday || b.Weekday() != time.Thursday {
		t.Errorf("weekdays = %v, %v; want Monday, Thursday", a.Weekday(), b.Weekday())
	}
	if d := mustDate(t, "1969-12-31"); d.Weekday() != time.Wednesday {
		t.Errorf("%v is a %v, want Wednesday", d, d.Weekday())
	}
}

func TestDateJSONRoundTrip(t *testing.T) {
	in := workdays.Closure{From: mustDate(t, "2026-12-24"), To: mustDate(t, "2027-01-01"), Name: "Winter shutdown"}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"From":"2026-12-24","To":"2027-01-01","Name":"Winter shutdown"}`; string(b) != want {
		t.Errorf("json = %s, want %s", b, want)
	}
	var out workdays.Closure
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("round trip = %+v, %v; want %+v", out, err, in)
	}
	if err := json.Unmarshal([]byte(`{"From":"2026-02-30"}`), &out); !errors.Is(err, workdays.ErrInvalidDate) {
		t.Errorf("unmarshal of a day that does not exist: err = %v, want ErrInvalidDate", err)
	}
}

func FuzzParseDate(f *testing.F) {
	for _, s := range []string{"2026-12-24", "2028-02-29", "2026-02-29", "0000-01-01", "9999-12-31",
		"", "2026-1-1", "+026-01-01", "-001-01-01", "2026-12-24\n", "2026-00-10", "2026-12-32"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := workdays.ParseDate(s)
		// Known answer: the standard library agrees, except that it allows a
		// sign in the year, which ParseDate refuses.
		_, stdErr := time.Parse(time.DateOnly, s)
		want := stdErr == nil && s[0] >= '0' && s[0] <= '9'
		if (err == nil) != want {
			t.Fatalf("ParseDate(%q) error = %v; time.Parse error = %v", s, err, stdErr)
		}
		if err != nil {
			if !errors.Is(err, workdays.ErrInvalidDate) || !strings.HasPrefix(err.Error(), "workdays: ") {
				t.Fatalf("ParseDate(%q) error = %q, want a workdays: ErrInvalidDate", s, err)
			}
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDate(%q).String() = %q", s, d.String())
		}
		var u workdays.Date
		if err := u.UnmarshalText([]byte(s)); err != nil || u != d {
			t.Fatalf("UnmarshalText(%q) = %v, %v; want %v", s, u, err, d)
		}
	})
}

func mustDate(t testing.TB, s string) workdays.Date {
	t.Helper()
	d, err := workdays.ParseDate(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
