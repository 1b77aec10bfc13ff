package channel

import (
	"strings"
	"testing"
	"time"

	_ "time/tzdata"

	"github.com/dissent-channel/dissent/internal/workdays"
)

func TestTransitions(t *testing.T) {
	for _, c := range []struct {
		from State
		act  Action
		to   State
		ok   bool
	}{
		{Draft, ActInvite, Circulating, true},
		{Circulating, ActInvite, Circulating, true},
		{Draft, ActSubmit, Submitted, true},
		{Circulating, ActSubmit, Submitted, true},
		{Submitted, ActSubmit, Submitted, false},
		{Submitted, ActAcknowledge, Acknowledged, true},
		{Acknowledged, ActAcknowledge, Acknowledged, false},
		{Acknowledged, ActReturn, Returned, true},
		{Replied, ActReturn, Replied, false},
		{Acknowledged, ActWithdraw, Withdrawn, true},
		{Replied, ActWithdraw, Replied, false},
		{Submitted, ActReply, Replied, true},
		{Replied, ActClose, Closed, true},
		{Acknowledged, ActClose, Acknowledged, false},
		{Closed, ActReply, Closed, false},
	} {
		got, err := Transition(c.from, c.act)
		if (err == nil) != c.ok || got != c.to {
			t.Errorf("%s --%s--> %s, %v; want %s ok=%v", c.from, c.act, got, err, c.to, c.ok)
		}
		if err != nil && ErrorCode(err) != ECONFLICT {
			t.Errorf("%s --%s-->: code %s, want conflict", c.from, c.act, ErrorCode(err))
		}
	}
}

func TestPrepareSubmission(t *testing.T) {
	r := Roster{Authors: []Author{
		{UserID: "d1", Kind: KindDrafter, SignedRevision: 3, Signature: []byte{1}},
		{UserID: "d2", Kind: KindDrafter},
		{UserID: "s1", Kind: KindSigner, SignedRevision: 3, Signature: []byte{1}},
		{UserID: "s2", Kind: KindSigner, SignedRevision: 2, Signature: []byte{1}},
		{UserID: "s3", Kind: KindSigner},
	}}
	if err := r.PrepareSubmission(3, nil); err != nil {
		t.Fatal(err)
	}
	var kept, dropped []string
	for _, a := range r.Authors {
		kept = append(kept, a.UserID)
	}
	for _, a := range r.Dropped {
		dropped = append(dropped, a.UserID)
	}
	if strings.Join(kept, ",") != "d1,d2,s1" || strings.Join(dropped, ",") != "s2,s3" {
		t.Fatalf("kept %v dropped %v", kept, dropped)
	}
	none := Roster{Authors: []Author{{UserID: "d", Kind: KindDrafter}, {UserID: "s", Kind: KindSigner, SignedRevision: 1, Signature: []byte{1}}}}
	if err := none.PrepareSubmission(1, nil); ErrorCode(err) != EINVALID {
		t.Fatalf("no drafter signed: %v", err)
	}
}

func TestDeadlines(t *testing.T) {
	ny, _ := time.LoadLocation("America/New_York")
	berlin, _ := time.LoadLocation("Europe/Berlin")
	at := func(loc *time.Location, s string) time.Time {
		t.Helper()
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		name, profile, holidays string
		loc                     *time.Location
		submitted               string
		ack, reply, latest      string
	}{
		{"state: a Monday morning", "state-2fam070", "us-federal", ny, "2026-03-02 10:00", "2026-03-04 17:00", "2026-04-13 17:00", "2026-05-26 17:00"},
		{"state: after hours counts from the next working day", "state-2fam070", "us-federal", ny, "2026-03-02 18:30", "2026-03-05 17:00", "2026-04-14 17:00", "2026-05-27 17:00"},
		{"state: Thanksgiving week", "state-2fam070", "us-federal", ny, "2026-11-25 12:00", "2026-11-30 17:00", "2027-01-11 17:00", "2027-02-24 17:00"},
		{"state: Independence Day observed on Friday 3 July 2026", "state-2fam070", "us-federal", ny, "2026-07-02 16:30", "2026-07-07 17:00", "2026-08-14 17:00", "2026-09-28 17:00"},
		{"eu: seven calendar days and three months", "eu-2019-1937", "de", berlin, "2026-03-27 10:00", "2026-04-03 10:00", "2026-06-27 10:00", "2026-06-27 10:00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cal, err := workdays.New(workdays.Config{Location: c.loc, Holidays: c.holidays})
			if err != nil {
				t.Fatal(err)
			}
			d := Profiles[c.profile].Deadlines(cal, at(c.loc, c.submitted))
			for _, x := range []struct {
				what string
				got  time.Time
				want string
			}{{"acknowledge", d.AcknowledgeBy, c.ack}, {"reply", d.ReplyBy, c.reply}, {"latest", d.ReplyLatest, c.latest}} {
				if !x.got.Equal(at(c.loc, x.want)) {
					t.Errorf("%s by %s, want %s", x.what, x.got.In(c.loc).Format("Mon 2006-01-02 15:04"), x.want)
				}
			}
		})
	}
}

func TestParseRule(t *testing.T) {
	for s, want := range map[string]string{"2 workdays": "2 workdays", "1 workday": "1 workdays", "7 days": "7 days", "3 months": "3 months"} {
		r, err := ParseRule(s)
		if err != nil || r.String() != want {
			t.Errorf("ParseRule(%q) = %v, %v", s, r, err)
		}
	}
	for _, s := range []string{"", "2", "two workdays", "0 days", "3 weeks", "401 days"} {
		if _, err := ParseRule(s); err == nil {
			t.Errorf("ParseRule(%q) accepted", s)
		}
	}
}

func TestValidation(t *testing.T) {
	for _, c := range []struct {
		name string
		err  error
		ok   bool
	}{
		{"plain username", ValidateUsername("u", "amara.o-k_1"), true},
		{"upper case username", ValidateUsername("u", "Amara"), false},
		{"username with a control character", ValidateUsername("u", "am\x00ara"), false},
		{"username starting with a dot", ValidateUsername("u", ".amara"), false},
		{"title with a newline", ValidateLine("title", "a\nb", MaxTitle), false},
		{"title with a bidi override", ValidateLine("title", "a\u202eb", MaxTitle), false},
		{"blank title", ValidateLine("title", "   ", MaxTitle), false},
		{"title of zero-width spaces", ValidateLine("title", "\u200b\u200b", MaxTitle), false},
		{"title of a Hangul filler", ValidateLine("title", "\u3164", MaxTitle), false},
		{"title with a right-to-left mark", ValidateLine("title", "2026\u200f-2027", MaxTitle), false},
		{"title with an Arabic letter mark", ValidateLine("title", "\u061c2026", MaxTitle), false},
		{"title with a joined emoji", ValidateLine("title", "Staff \U0001F469\u200d\U0001F4BB", MaxTitle), true},
		{"title in Persian with a zero-width non-joiner", ValidateLine("title", "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645", MaxTitle), true},
		{"reason of a word joiner and a byte order mark", ValidateText("reason", "\u2060\ufeff\n", MaxReason), false},
		{"body with a bidi isolate", ValidateText("body", "a\u2067b\u2069", 100), false},
		{"long title", ValidateLine("title", strings.Repeat("é", MaxTitle+1), MaxTitle), false},
		{"body with newlines and tabs", ValidateText("body", "a\n\tb\r\n", 100), true},
		{"body with a bell", ValidateText("body", "a\ab", 100), false},
		{"body with invalid UTF-8", ValidateText("body", "a\xffb", 100), false},
		{"email", ValidateEmail("email", "a@example.org"), true},
		{"email with a name", ValidateEmail("email", "A <a@example.org>"), false},
		{"short password", ValidatePassword("password", "short"), false},
		{"unknown role", ValidateRoles("roles", []Role{"member", "king"}), false},
		{"an administrator who is a member", ValidateRoles("roles", []Role{RoleAdmin, RoleMember}), false},
		{"an administrator who is a principal", ValidateRoles("roles", []Role{RolePrincipal, RoleAdmin}), false},
		{"an administrator in the office", ValidateRoles("roles", []Role{RoleAdmin, RoleOffice}), false},
		{"a principal in the office", ValidateRoles("roles", []Role{RoleOffice, RolePrincipal}), true},
		{"repeated username", ValidateUsernames("u", []string{"ab", "ab"}, false), false},
	} {
		if (c.err == nil) != c.ok {
			t.Errorf("%s: %v", c.name, c.err)
		}
	}
	if err := ValidateText("body", strings.Repeat("x", 101), 100); ErrorCode(err) != ETOOLARGE {
		t.Errorf("oversized body: %v", err)
	}
}

// FuzzParseRule feeds deadline rules as a deployment's profile settings
// give them: a rule is accepted only within its bounds, and its own
// spelling reads back as the same rule.
func FuzzParseRule(f *testing.F) {
	for _, s := range []string{"2 workdays", "1 workday", "30 days", "3 months", "0 days", "401 days", "2 weeks", " 2\tworkdays ", "+2 days"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseRule(s)
		if err != nil {
			return
		}
		if r.N < 1 || r.N > 400 || (r.Unit != Workdays && r.Unit != Days && r.Unit != Months) {
			t.Fatalf("ParseRule(%q) = %+v, out of bounds", s, r)
		}
		if again, err := ParseRule(r.String()); err != nil || again != r {
			t.Fatalf("ParseRule(%q) = %+v, and its spelling %q reads %+v, %v", s, r, r.String(), again, err)
		}
	})
}
