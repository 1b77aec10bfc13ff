package config_test

import "testing"

// TestEUProfileKeepsTheDirectivesLimits: the EU profile is the
// Whistleblower Directive's internal channel, whose Article 9 sets legal
// maxima: acknowledgment within 7 days, feedback within 3 months. A
// deployment under that profile that overrides them to 30 days and 12
// months passes `config check`, and every memo then carries deadlines the
// law does not allow, while the channel still calls itself the Directive's
// (the reminders and escalations fire only after the unlawful deadlines, so
// a breach of the real ones is never flagged) (review helper-47). No
// deployment may lengthen its profile's deadlines now; it may shorten them.
func TestEUProfileKeepsTheDirectivesLimits(t *testing.T) {
	for _, over := range []string{
		"acknowledge = \"30 days\"\n",
		"acknowledge = \"7 workdays\"\n", // 7 working days is 9 to 11 calendar days
		"reply = \"12 months\"\n",
	} {
		if _, err := load(t, "[channel]\nprofile = \"eu-2019-1937\"\n"+over); err == nil {
			t.Errorf("the EU profile with %q passes config check: deadlines beyond Directive 2019/1937 Art. 9(1)(b)/(f)", over)
		}
	}
	if _, err := load(t, "[channel]\nprofile = \"eu-2019-1937\"\nacknowledge = \"5 days\"\nreply = \"2 months\"\n"); err != nil {
		t.Errorf("shorter deadlines under the EU profile refused: %v", err)
	}
	if _, err := load(t, "[channel]\nreply_latest = \"61 workdays\"\n"); err == nil {
		t.Error("the State profile's latest reply lengthened past 60 working days passes config check")
	}
}

// TestAppealSettings: a deployment of the NRC profile may give its
// authors longer to appeal and decide appeals sooner, but not the reverse,
// and a profile without appeals takes no appeal settings at all.
func TestAppealSettings(t *testing.T) {
	nrc := "[channel]\nprofile = \"nrc-dpo\"\n"
	for _, bad := range []string{
		nrc + "appeal = \"10 days\"\n",        // shorter than the profile's 21 days
		nrc + "appeal_reply = \"6 months\"\n", // later than its 120 days
		"[channel]\nappeal = \"30 days\"\n",   // the State profile has no appeal
		"[channel]\nappeal_reply = \"30 days\"\n",
		nrc + "appeal = \"fortnight\"\n",
	} {
		if _, err := load(t, bad); err == nil {
			t.Errorf("config check passes %q", bad)
		}
	}
	c, err := load(t, nrc+"appeal = \"30 days\"\nappeal_reply = \"60 days\"\n")
	if err != nil {
		t.Fatalf("a longer appeal window and a sooner decision refused: %v", err)
	}
	p, err := c.Profile()
	if err != nil || p.Appeal.N != 30 || p.AppealReply.N != 60 {
		t.Errorf("profile = %+v, %v; want appeal 30 days, decision 60 days", p, err)
	}
}
