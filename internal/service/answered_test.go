package service_test

import (
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestEUReporterIsToldOfAcknowledgementAndFeedback: under the
// EU profile the Directive's duties are owed to the reporting person:
// acknowledgment of receipt within 7 days and feedback within 3 months
// (Art. 9(1)(b), (f)). The office acknowledges and replies on time, yet the
// reporter's bell, the only place the channel tells an author anything,
// never says so (it works out only signatures asked and stale drafts), and
// no e-mail goes to them: the acknowledgment and the feedback wait, unseen,
// until the reporter happens to open the memo (review helper-47). The bell
// now works the office's answers out from the author's own index, as it
// does sign.pending, storing and mailing nothing.
func TestEUReporterIsToldOfAcknowledgementAndFeedback(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "eu-2019-1937"})
	reporter := d.Member("reporter")
	m, _ := d.Submitted(reporter, "Report of a breach")
	before := bell(t, d, reporter)
	d.Clock.Advance(time.Hour)
	if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	afterAck := bell(t, d, reporter)
	d.Clock.Advance(24 * time.Hour)
	if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "Feedback: we have opened an investigation."); err != nil {
		t.Fatal(err)
	}
	afterReply := bell(t, d, reporter)
	if countWaiting(before, service.KindAcknowledged) != 0 || countWaiting(afterAck, service.KindAcknowledged) != 1 {
		t.Errorf("the office acknowledged the report; the reporter's bell: %+v, before it %+v", afterAck, before)
	}
	if n := countWaiting(afterReply, service.KindReplied); n != 1 {
		t.Errorf("the reporter's bell after the feedback: %+v, want one memo.replied", afterReply.Waiting)
	}
	d.Clock.Advance(31 * 24 * time.Hour)
	if n := countWaiting(bell(t, d, reporter), service.KindReplied); n != 0 {
		t.Errorf("a month later the bell still shows the feedback (%d)", n)
	}
}

func countWaiting(b *service.Bell, kind string) int {
	n := 0
	for _, w := range b.Waiting {
		if w.Kind == kind {
			n++
		}
	}
	return n
}
