package config_test

import (
	"testing"
	"time"
)

// TestReplyLatestBeforeReplyIsRefused: an agency that lengthens the State
// profile's reply to "3 months" (or "90 workdays") keeps the profile's
// latest reply of 60 working days, which now falls before the reply
// deadline. Config check refuses it: every memo would show a "reply at the
// latest" date before its "reply by" date, and the reminders job would drop
// the latest-reply deadline altogether (it only counts it when later).
func TestReplyLatestBeforeReplyIsRefused(t *testing.T) {
	for _, reply := range []string{"3 months", "90 workdays"} {
		c, err := load(t, "[channel]\nreply = \""+reply+"\"\n")
		if err != nil {
			continue // refused: good
		}
		p, err := c.Profile()
		if err != nil {
			t.Fatal(err)
		}
		cal, err := c.Calendar()
		if err != nil {
			t.Fatal(err)
		}
		d := p.Deadlines(cal, time.Date(2026, 3, 2, 10, 0, 0, 0, cal.Location()))
		if d.ReplyLatest.Before(d.ReplyBy) {
			t.Errorf("reply = %q accepted: reply by %s but at the latest by %s", reply, d.ReplyBy.Format(time.DateOnly), d.ReplyLatest.Format(time.DateOnly))
		}
	}
}
