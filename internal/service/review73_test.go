package service_test

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// review73ClosedAnonymousReport is a report alice filed anonymously under
// the EU profile, acknowledged, replied to and closed there; and a node of
// the same deployment configured since with the NRC profile (a profile
// switched in the configuration after memos exist).
func review73ClosedAnonymousReport(t *testing.T) (*servicetest.Deployment, *service.Actor, *service.Memo, *service.Service) {
	t.Helper()
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), servicetest.Options{Profile: "eu-2019-1937"})
	alice := d.Member("alice")
	m := anonymousReport(t, d, alice)
	d.Clock.Advance(time.Hour)
	if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(24 * time.Hour)
	if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "The purchases were reviewed."); err != nil {
		t.Fatal(err)
	}
	d.Clock.Advance(time.Hour)
	if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	cfg := d.Svc.Config()
	cfg.Profile = channel.Profiles["nrc-dpo"]
	return d, alice, m, d.WithConfig(cfg)
}

// TestReview73AnonymousReportIsNotPublishedWithoutItsAuthor: a case is
// published only with every drafter's agreement (PRODUCT, README,
// THREAT-MODEL "Known gaps": "its drafters each agreed to its
// publication"). Publish counts the drafters in the roster the office
// opens; an anonymous report's roster, for the office, is the cover, which
// names no one, so "0 of 0 drafters agreed" passes. Once the deployment
// runs the NRC profile, the office publishes an anonymous report, its
// text in the clear to everyone signed in, without its author ever
// agreeing.
func TestReview73AnonymousReportIsNotPublishedWithoutItsAuthor(t *testing.T) {
	d, _, m, nrc := review73ClosedAnonymousReport(t)
	d.Clock.Advance(60 * 24 * time.Hour) // any time to appeal is long over
	p, err := nrc.Publish(d.Ctx, d.Office, m.ID)
	if err == nil {
		t.Errorf("the office published an anonymous report its author never agreed to publish (authors_count %d): %q",
			p.AuthorsCount, p.Body)
	}
	if page, err := nrc.Publications(d.Ctx, d.Principals[0], "", 50); err == nil && len(page.Items) > 0 {
		t.Errorf("the anonymous report is among the published cases everyone signed in reads: %+v", page.Items)
	}
}

// TestReview73ConsentToPublishDoesNotNameTheAnonymousAuthor: nothing the
// office's or a reader's keys open may name the author of an anonymous
// report (THREAT-MODEL, "The office and readers of an anonymous report").
// addItem strips the author from the items an anonymous author writes
// (text, reason, meeting), but AgreeToPublish seals consentItem{By: the
// user's id} under the memo's key, which the office and every reader hold:
// the author who agrees to publish their report (NRC profile, after the
// switch) hands the office their user id.
func TestReview73ConsentToPublishDoesNotNameTheAnonymousAuthor(t *testing.T) {
	d, alice, m, nrc := review73ClosedAnonymousReport(t)
	_, agreeErr := nrc.AgreeToPublish(d.Ctx, alice, m.ID) // refused or recorded: either way it must not name her
	secrets := []string{alice.User.ID, alice.User.Username, alice.User.DisplayName}
	for _, who := range []*service.Actor{d.Office, d.Principals[0]} {
		plain, err := nrc.Plaintexts(d.Ctx, who, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		all := bytes.Join(plain, []byte("\n"))
		for _, s := range secrets {
			if bytes.Contains(all, []byte(s)) {
				t.Errorf("after the anonymous author agreed to publish (err %v), the keys %s holds open %q, the author's identity",
					agreeErr, who.Username(), s)
			}
		}
	}
}

// TestReview73DecidedAppealsAreNotWorkedOutWhenFew: published figures never
// single out a person (PRODUCT invariant 7; stats.go rule 3: a count from
// 1 to threshold-1 is shown as "<5"). computeStats publishes "appeals"
// (made) as a primary count and the "appealed" state count apart; their
// difference is the number of appeals decided (stats.go says so: "a total
// known when both counts show"), and nothing checks that difference
// against the threshold. Six appeals, five still awaiting their decision:
// the figures show 6 and 5, and so that exactly one appeal was decided.
func TestReview73DecidedAppealsAreNotWorkedOutWhenFew(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t), servicetest.Options{Profile: "nrc-dpo"})
	alice, bob := d.Member("alice"), d.Member("bob")
	var appealed []*service.Memo
	for i := range 6 {
		appealed = append(appealed, replied(t, d, alice, bob, "Appealed "+string(rune('a'+i))))
	}
	for i := range 5 { // replied, not appealed: the replied count shows
		replied(t, d, alice, bob, "Replied "+string(rune('a'+i)))
	}
	for _, m := range appealed {
		if _, err := d.Svc.Appeal(d.Ctx, alice, m.ID, "We appeal."); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.Svc.DecideAppeal(d.Ctx, d.Office, appealed[0].ID, "The decision stands."); err != nil {
		t.Fatal(err)
	}
	st, err := d.Svc.YearStats(d.Ctx, d.Office, 2026)
	if err != nil {
		t.Fatal(err)
	}
	made, still := st.AppealsMade, st.States[string(channel.Appealed)]
	if !made.Shown() || !still.Shown() {
		return // one of them hidden: the difference is not told
	}
	var nMade, nStill int
	if _, err := fmt.Sscan(made.String(), &nMade); err != nil {
		t.Fatal(err)
	}
	if _, err := fmt.Sscan(still.String(), &nStill); err != nil {
		t.Fatal(err)
	}
	if k, decided := st.Suppression, nMade-nStill; decided > 0 && decided < k {
		t.Errorf("the figures show %d appeals made and %d still appealed: exactly %d appeal(s) decided, a count under the threshold %d (appeals_decided: %v)",
			nMade, nStill, decided, k, st.Appeals)
	}
}
