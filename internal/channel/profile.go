package channel

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dissent-channel/dissent/internal/workdays"
)

// Unit is what a deadline counts.
type Unit string

// Deadline units.
const (
	Workdays Unit = "workdays"
	Days     Unit = "days"
	Months   Unit = "months"
)

// Rule is a deadline rule such as "2 working days" or "3 months".
type Rule struct {
	N    int
	Unit Unit
}

// ParseRule reads "2 workdays", "7 days" or "3 months".
func ParseRule(s string) (Rule, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return Rule{}, fmt.Errorf("channel: deadline %q: want a number and a unit, like \"2 workdays\"", s)
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1 || n > 400 {
		return Rule{}, fmt.Errorf("channel: deadline %q: the number must be 1 to 400", s)
	}
	u := Unit(strings.TrimSuffix(f[1], "s") + "s")
	switch u {
	case Workdays, Days, Months:
	default:
		return Rule{}, fmt.Errorf("channel: deadline %q: the unit must be workdays, days or months", s)
	}
	return Rule{N: n, Unit: u}, nil
}

func (r Rule) String() string {
	if r.N == 0 {
		return ""
	}
	return strconv.Itoa(r.N) + " " + string(r.Unit)
}

// From applies the rule to a memo received at t.
func (r Rule) From(cal *workdays.Calendar, t time.Time) time.Time {
	switch r.Unit {
	case Workdays:
		return cal.AddWorkdays(t, r.N)
	case Days:
		return cal.AddDays(t, r.N)
	case Months:
		return cal.AddMonths(t, r.N)
	}
	panic("channel: unknown unit " + string(r.Unit))
}

// Profile is a policy: the deadlines, calendar and rules a deployment
// follows. Profiles are configuration, not code.
type Profile struct {
	Name        string
	Title       string
	Acknowledge Rule
	Reply       Rule
	ReplyLatest Rule // zero means the same as Reply
	Holidays    string
	// Appeal is how long after the reply its authors may appeal it
	// (zero: the profile has no appeal); AppealReply is when, counted
	// from the appeal, the office owes its decision on appeal.
	Appeal      Rule
	AppealReply Rule
	// EligibleOnly limits filing and signing to members marked eligible.
	EligibleOnly bool
	// Anonymous allows reports without a named author (EU profile).
	Anonymous bool
	// Publish allows closed cases to be published (NRC profile).
	Publish  bool
	Markings []string
}

// DefaultMarkings are the handling markings of a new deployment.
var DefaultMarkings = []string{"UNCLASSIFIED", "SENSITIVE BUT UNCLASSIFIED"}

// Profiles are the built-in policy profiles, by name.
var Profiles = map[string]Profile{
	"state-2fam070": {
		Name:         "state-2fam070",
		Title:        "State Department Dissent Channel (2 FAM 070)",
		Acknowledge:  Rule{2, Workdays},
		Reply:        Rule{30, Workdays},
		ReplyLatest:  Rule{60, Workdays},
		Holidays:     "us-federal",
		EligibleOnly: true,
		Markings:     DefaultMarkings,
	},
	"eu-2019-1937": {
		Name:        "eu-2019-1937",
		Title:       "EU Whistleblower Directive internal channel (2019/1937)",
		Acknowledge: Rule{7, Days},
		Reply:       Rule{3, Months},
		Holidays:    "none",
		Anonymous:   true,
		Markings:    DefaultMarkings,
	},
	"nrc-dpo": {
		Name:        "nrc-dpo",
		Title:       "NRC Differing Professional Opinion",
		Acknowledge: Rule{5, Workdays},
		Reply:       Rule{120, Days},
		// The submitters may appeal the decision, for 21 days after
		// it; the appeal is decided on the first decision's clock.
		// Deployments set their own (channel.appeal, appeal_reply).
		Appeal:      Rule{21, Days},
		AppealReply: Rule{120, Days},
		Holidays:    "us-federal",
		Publish:     true,
		Markings:    DefaultMarkings,
	},
}

// DefaultProfile is the profile of a deployment that names none.
const DefaultProfile = "state-2fam070"

// Appeals reports whether the profile lets authors appeal the reply.
func (p Profile) Appeals() bool { return p.Appeal.N > 0 }

// AppealBy is until when the authors of a memo replied to at t may appeal.
func (p Profile) AppealBy(cal *workdays.Calendar, replied time.Time) time.Time {
	return p.Appeal.From(cal, replied.In(cal.Location()))
}

// AppealReplyBy is when the decision on an appeal made at t falls due.
func (p Profile) AppealReplyBy(cal *workdays.Calendar, appealed time.Time) time.Time {
	if p.AppealReply.Unit == Workdays {
		return p.AppealReply.From(cal, cal.Received(appealed))
	}
	return p.AppealReply.From(cal, appealed.In(cal.Location()))
}

// Deadlines returns the deadlines of a memo submitted at t: counted from
// when it counts as received (the next working moment) in the office's zone.
func (p Profile) Deadlines(cal *workdays.Calendar, submitted time.Time) Deadlines {
	received := cal.Received(submitted)
	if p.Acknowledge.Unit != Workdays {
		received = submitted.In(cal.Location())
	}
	d := Deadlines{
		AcknowledgeBy: p.Acknowledge.From(cal, received),
		ReplyBy:       p.Reply.From(cal, received),
	}
	d.ReplyLatest = d.ReplyBy
	if p.ReplyLatest.N > 0 {
		d.ReplyLatest = p.ReplyLatest.From(cal, received)
	}
	return d
}
