package config_test

import (
	"testing"
	"time"
)

// TestReview66ClosureOutsideTheSampledYearLengthensTheDirectivesDeadline:
// a deployment may shorten its profile's deadlines, never lengthen them
// (OPERATIONS.md, [channel] acknowledge: "sooner only, never later than the
// profile's rules (the EU Directive's 7 days ...): config check refuses
// that"). withinProfile checks that by sampling one submission a day at
// 10:00 in 2027 only. Under the EU profile, acknowledge = "4 workdays" (with
// reply = "2 months") is within the Directive's limits on every day of 2027
// and passes; but a closure is a run of days off in
// whatever year it is, and the calendar counts working days over it. With a
// Christmas shutdown in 2027 the check refuses the setting (the closure
// falls in the sample); with the same shutdown a year earlier, in 2026 -
// the year the deployment runs in - it passes, and a report filed on
// Wednesday 23 December 2026 must be acknowledged only by 6 January 2027:
// 14 days, twice the Directive's Article 9(1)(b) maximum, while the
// reminders and escalations follow that deadline and never flag the breach.
func TestReview66ClosureOutsideTheSampledYearLengthensTheDirectivesDeadline(t *testing.T) {
	const base = "[channel]\nprofile = \"eu-2019-1937\"\ntime_zone = \"Europe/Berlin\"\nacknowledge = \"4 workdays\"\nreply = \"2 months\"\n"
	if _, err := load(t, base); err != nil {
		t.Fatalf("the setting without closures is within 7 days and should pass: %v", err)
	}
	// Sanity: the shutdown in the sampled year is refused.
	if _, err := load(t, base+"closures = [ { from = \"2027-12-24\", to = \"2027-12-31\", name = \"Christmas shutdown\" } ]\n"); err == nil {
		t.Fatal("a 2027 shutdown that lengthens the acknowledgement past 7 days passes config check")
	}
	c, err := load(t, base+"closures = [ { from = \"2026-12-24\", to = \"2026-12-31\", name = \"Christmas shutdown\" } ]\n")
	if err == nil {
		p, perr := c.Profile()
		cal, cerr := c.Calendar()
		if perr != nil || cerr != nil {
			t.Fatal(perr, cerr)
		}
		filed := time.Date(2026, 12, 23, 10, 0, 0, 0, cal.Location())
		got := p.Deadlines(cal, filed).AcknowledgeBy
		limit := filed.AddDate(0, 0, 7)
		if got.After(limit) {
			t.Errorf("config check passes acknowledge = \"4 workdays\" under the EU profile with a shutdown from 24 to 31 December 2026: a report filed %s must be acknowledged only by %s, %.0f days later (the Directive's maximum, which the profile keeps, is 7 days: %s)",
				filed.Format("Mon 2 Jan 2006 15:04"), got.Format("Mon 2 Jan 2006 15:04"), got.Sub(filed).Hours()/24, limit.Format("Mon 2 Jan 2006 15:04"))
		}
	}
}
